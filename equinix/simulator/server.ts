/**
 * The simulator's HTTP side: a Hono app serving the Metal API subset in
 * {@link ROUTES} under /metal/v1, and the admin endpoint under /_sim/.
 *
 * Every API request goes through the same steps, in this order:
 * 1. counted (stats), its body read;
 * 2. the standing latency;
 * 3. `X-Auth-Token` checked (401);
 * 4. an injected fault answers instead (5xx, 429 with Retry-After, a
 *    `failNext` status), before anything is changed;
 * 5. the operation's handler (errors as `{"errors": [...]}`);
 * 6. the exchange reported to `onExchange`;
 * 7. a lost reply is held until the client gives up or the simulator closes.
 *
 * While the simulator closes, requests still waiting (latency, lost replies)
 * are answered 503 so that the server's shutdown does not wait for their
 * clients.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { setTimeout as sleep } from "node:timers/promises";
import { type AdminContext, adminRoutes } from "./admin_routes.ts";
import { ApiError } from "./api_error.ts";
import type { InjectedReply } from "./faults.ts";
import type { ApiReply, OperationHandler } from "./handlers.ts";
import { parseJsonBody } from "./requests.ts";
import { API_BASE_PATH, honoPath, type OperationId, ROUTES } from "./routes.ts";
import type { RequestStats } from "./stats.ts";
import type { Exchange } from "./types.ts";

/** What the app serves from. */
export interface ServerContext extends AdminContext {
  handlers: Record<OperationId, OperationHandler>;
  stats: RequestStats;
  onExchange?: (exchange: Exchange) => void;
  /** Aborts when the simulator closes: waiting requests give up. */
  closing: AbortSignal;
}

/** An operation as an exchange names it; "unknown" for a path the simulator does not serve. */
interface ServedOperation {
  operationId: string;
  pathTemplate: string;
  handler?: OperationHandler;
}

const SIMULATOR_CLOSING: InjectedReply = {
  status: 503,
  fault: "server-error",
  message: "The Metal API simulator is shutting down",
};

/** The Hono app of one simulator. */
export function createApp(context: ServerContext): Hono {
  const app = new Hono();
  app.route("/_sim", adminRoutes(context));
  for (const route of ROUTES) {
    const operation = { ...route, handler: context.handlers[route.operationId] };
    app.on(route.method, honoPath(route), (c) => serveApiRequest(context, operation, c));
  }
  app.all(`${API_BASE_PATH}/*`, (c) =>
    serveApiRequest(context, {
      operationId: "unknown",
      pathTemplate: c.req.path.slice(API_BASE_PATH.length),
    }, c));
  app.notFound(() => jsonResponse(404, { errors: ["Not found"] }));
  return app;
}

async function serveApiRequest(context: ServerContext, operation: ServedOperation, c: Context): Promise<Response> {
  const { faults, stats, closing, onExchange } = context;
  stats.arrived(operation.operationId);
  try {
    const url = new URL(c.req.url);
    const bodyText = await c.req.text();
    /** Reports the exchange to the hook, if any, with the reply as sent; returns the reply's JSON text. */
    const record = (reply: ApiReply, details: Pick<Exchange, "fault" | "lost">) => {
      const json = reply.body === undefined ? undefined : JSON.stringify(reply.body);
      if (onExchange) {
        report(onExchange, {
          operationId: operation.operationId,
          method: c.req.method,
          pathTemplate: operation.pathTemplate,
          url: url.pathname + url.search,
          requestBody: recordedBody(bodyText),
          ...details,
          status: reply.status,
          // A parsed copy: the body as on the wire, and a hook cannot change the simulator's objects through it.
          responseBody: json === undefined ? undefined : JSON.parse(json),
        });
      }
      return json;
    };
    const finish = (reply: ApiReply, fault?: InjectedReply["fault"], headers: Record<string, string> = {}) => {
      const json = record(reply, { fault, lost: false });
      if (json === undefined) return new Response(null, { status: reply.status, headers });
      return new Response(json, { status: reply.status, headers: { "Content-Type": "application/json", ...headers } });
    };
    const injected = (reply: InjectedReply) =>
      finish(
        { status: reply.status, body: { errors: [reply.message] } },
        reply.fault,
        reply.retryAfterSeconds === undefined ? {} : { "Retry-After": String(reply.retryAfterSeconds) },
      );

    const { latencyMs } = faults.settings;
    if (latencyMs > 0) {
      try {
        await sleep(latencyMs, undefined, { signal: closing });
      } catch {
        return injected(SIMULATOR_CLOSING);
      }
    }
    const token = c.req.header("X-Auth-Token");
    if (token !== context.token) {
      const message = token === undefined ? "Missing X-Auth-Token header" : "Invalid authentication token";
      return finish({ status: 401, body: { errors: [message] } });
    }
    if (!operation.handler) return finish({ status: 404, body: { errors: ["Not found"] } });
    const fault = faults.nextReply(operation.operationId);
    if (fault) return injected(fault);

    const reply = handle(operation.handler, {
      params: c.req.param(),
      query: url.searchParams,
      path: url.pathname,
      json: () => parseJsonBody(bodyText),
    });
    if (!faults.takeLostReply(operation.operationId)) return finish(reply);
    record(reply, { fault: "lost-reply", lost: true });
    await abandoned(AbortSignal.any([c.req.raw.signal, closing]));
    // Only a client still connected while the simulator closes sees this.
    return jsonResponse(SIMULATOR_CLOSING.status, { errors: [SIMULATOR_CLOSING.message] });
  } finally {
    stats.left();
  }
}

/** The handler's reply; its refusals as error replies. */
function handle(handler: OperationHandler, request: Parameters<OperationHandler>[0]): ApiReply {
  try {
    return handler(request);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, body: error.body() };
    // A bug in the simulator: still answer in the API's format, so the client sees a 500.
    return { status: 500, body: { errors: [`Simulator error: ${(error as Error).message}`] } };
  }
}

/** The body as the exchange records it: parsed JSON, the raw text if it is not JSON, undefined if empty. */
function recordedBody(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function report(onExchange: (exchange: Exchange) => void, exchange: Exchange): void {
  try {
    onExchange(exchange);
  } catch (error) {
    // The hook belongs to a test: its failure must not change the reply, but must not pass unseen.
    reportError(error);
  }
}

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

/** Resolves when `signal` aborts. */
function abandoned(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
}
