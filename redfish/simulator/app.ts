/**
 * The HTTP side of a BMC: one Hono app, shared by every BMC in the process,
 * serving {@link ROUTES}. Each request carries its BMC in the app's
 * bindings ({@link RequestEnv}), so ten thousand BMCs cost one router.
 *
 * Every request goes through the same steps, in this order:
 * 1. counted (stats);
 * 2. the latency (`faults.latencyMs`); a request whose client leaves
 *    meanwhile ends there, not carried out;
 * 3. `faults.hang`: held until the client gives up or the simulator closes;
 * 4. `faults.unavailable` (503 with Retry-After), then `faults.errorRate`
 *    (500): both before anything is changed;
 * 5. authentication (401), except for `/redfish`, `/redfish/v1/` and the
 *    session POST; then 404 for an unknown URI, 405 for a method it lacks;
 * 6. the route's handler (refusals as Redfish error bodies);
 * 7. `faults.loseReplies` (POST/PATCH/PUT/DELETE): the change is made, then
 *    the connection is dropped without a reply.
 *
 * Every reply has `OData-Version: 4.0`; JSON bodies have
 * `Content-Type: application/json; charset=utf-8`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { setTimeout as sleep } from "node:timers/promises";
import { authenticate } from "./auth.ts";
import type { Bmc } from "./bmc.ts";
import { type BmcFaults, latencyFor, takeHang, takeLostReply, takeServerError, takeUnavailable } from "./faults.ts";
import type { Reply } from "./handler.ts";
import type { ConnectionControl } from "./http_listener.ts";
import { RedfishError, redfishError } from "./redfish_error.ts";
import { allowHeader, type Method, type Route, ROUTES, servedRoute } from "./routes.ts";
import type { RequestCounter, RequestEnd } from "./stats.ts";

/** What a request is served with: its BMC, and its connection. */
export interface RequestEnv {
  bmc: Bmc;
  faults: BmcFaults;
  counter: RequestCounter;
  /** Aborts when the simulator closes: waiting requests give up. */
  closing: AbortSignal;
  connection: ConnectionControl;
}

type AppContext = Context<{ Bindings: RequestEnv }>;

let shared: Hono<{ Bindings: RequestEnv }> | undefined;

/** The app (built once per process). Call `app.fetch(request, env)`. */
export function redfishApp(): Hono<{ Bindings: RequestEnv }> {
  shared ??= createApp();
  return shared;
}

function createApp(): Hono<{ Bindings: RequestEnv }> {
  // strict: false serves "/redfish/v1/" and "/redfish/v1" alike, as Redfish clients use both.
  const app = new Hono<{ Bindings: RequestEnv }>({ strict: false });
  for (const route of ROUTES) app.all(route.path, (c) => serve(c, route));
  app.notFound((c) => serve(c, undefined));
  return app;
}

async function serve(c: AppContext, route: Route | undefined): Promise<Response> {
  const { faults, counter, closing, connection } = c.env;
  counter.arrived();
  let end: RequestEnd = "closed";
  try {
    const latencyMs = latencyFor(faults);
    // A client that leaves during the latency (or the close) ends the request before it is carried out.
    const gone = AbortSignal.any([c.req.raw.signal, closing]);
    if (latencyMs > 0 && !(await waited(latencyMs, gone))) return connection.drop();
    if (takeHang(faults)) {
      await abandoned(gone);
      end = "hang";
      return connection.drop();
    }
    const reply = await answer(c, route);
    if (takeLostReply(faults, c.req.method)) {
      end = "lost";
      return connection.drop();
    }
    end = reply.status;
    return toResponse(reply);
  } finally {
    counter.left(end);
  }
}

/** Steps 4 to 6: the reply the request gets. */
async function answer(c: AppContext, route: Route | undefined): Promise<Reply> {
  const { bmc, faults } = c.env;
  try {
    const retryAfterSeconds = takeUnavailable(faults);
    if (retryAfterSeconds !== undefined) {
      throw redfishError(503, "ServiceTemporarilyUnavailable", {
        args: [String(retryAfterSeconds)],
        headers: { "Retry-After": String(retryAfterSeconds) },
      });
    }
    if (takeServerError(faults)) throw redfishError(500, "InternalError");

    const path = c.req.path;
    const method = (c.req.method === "HEAD" ? "GET" : c.req.method) as Method;
    const served = servedRoute(bmc, route);
    const caller = served?.public?.includes(method) ? undefined : authenticate(bmc, c.req.raw.headers, path);
    if (!served) throw redfishError(404, "ResourceNotFound", { args: ["Resource", path] });
    const handler = served.methods[method];
    if (!handler) throw redfishError(405, "OperationNotAllowed", { headers: { Allow: allowHeader(served) } });
    return handler(bmc, {
      params: c.req.param() as Record<string, string>,
      path,
      headers: c.req.raw.headers,
      bodyText: await c.req.text(),
      caller,
    });
  } catch (error) {
    if (error instanceof RedfishError) {
      return { status: error.status, body: error.body(), headers: { ...error.headers } };
    }
    // A bug in the simulator: still a Redfish 500, saying what went wrong.
    const reply = redfishError(500, "InternalError");
    reply.messages[0].Resolution = `Simulator error: ${error instanceof Error ? error.message : String(error)}`;
    return { status: 500, body: reply.body() };
  }
}

function toResponse(reply: Reply): Response {
  const headers = new Headers({ "OData-Version": "4.0", "Cache-Control": "no-cache", ...reply.headers });
  if (reply.body === undefined) return new Response(null, { status: reply.status, headers });
  headers.set("Content-Type", "application/json; charset=utf-8");
  return new Response(JSON.stringify(reply.body), { status: reply.status, headers });
}

/** Sleeps `ms`; false when `signal` aborted first. */
async function waited(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Resolves when `signal` aborts. */
function abandoned(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
