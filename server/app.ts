/**
 * The Drover server's Hono app: health and readiness, the agent API
 * (`/agent/v1`, signed by agents), and, when access is configured, the admin
 * API (`/api/v1`), its event stream, `/metrics`, login, and the dashboard.
 *
 * @module
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Registry } from "prom-client";
import type { Bmdb, Logger, RecoveryTimeouts } from "../bmdb/mod.ts";
import type { PowerActions } from "../loops/mod.ts";
import { AGENT_API_PREFIX } from "../agent/mod.ts";
import { agentApi, type AgentApiOptions } from "./agent_api.ts";
import { adminApi } from "./admin_api.ts";
import { ownedApi } from "./owned_api.ts";
import { answerError } from "./api_error.ts";
import { type AccessOptions, type AuthVariables, hasAccess, logIn, loginPage, logOut, requireAccess } from "./auth.ts";
import type { EventHub } from "./event_hub.ts";
import { registerCountMetrics } from "./count_metrics.ts";

export interface AdminOptions {
  access: AccessOptions;
  hub: EventHub;
  recoveryTimeouts?: RecoveryTimeouts;
  bulkLimit?: number;
  /** The dashboard's routes (`uiRoutes` of the built UI); without it, `/` says the dashboard is not built. */
  ui?: Hono;
  /** Operators' power actions (machines you own, with a BMC). */
  power?: PowerActions;
  /** Set when the embedded demo fleet runs: what it does, for the Overview. */
  demo?: string;
  /** Request bodies larger than this are refused with 413, unread. @default 1 MiB */
  maxBodyBytes?: number;
}

/** The admin API's largest request body: a bulk action's machine ids fit many times over. */
export const ADMIN_MAX_BODY_BYTES = 1024 * 1024;

export interface ServerAppOptions {
  bmdb: Bmdb;
  logger: Logger;
  registry: Registry;
  /** Options of the agent API beyond the shared ones. */
  agentApi?: Omit<AgentApiOptions, "bmdb" | "logger" | "registry">;
  /** The admin API and dashboard; without it, only health and the agent API are served. */
  admin?: AdminOptions;
}

/** A page URL without its `token` parameter. */
function withoutToken(url: URL): string {
  url.searchParams.delete("token");
  const query = url.searchParams.toString();
  return url.pathname + (query ? `?${query}` : "");
}

export function serverApp(options: ServerAppOptions): Hono {
  const { bmdb, logger, registry } = options;
  const app = new Hono<{ Variables: AuthVariables }>();

  // Liveness: the process serves requests.
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  // Readiness: the database answers and the schema is current.
  app.get("/readyz", async (c) => {
    const { ready, problem } = await bmdb.readiness();
    return ready ? c.json({ status: "ready" }) : c.json({ status: "not ready", problem }, 503);
  });
  app.route(AGENT_API_PREFIX, agentApi({ ...options.agentApi, bmdb, logger, registry }));

  const admin = options.admin;
  if (admin) {
    const { access } = admin;
    app.get(
      "/login",
      (c) => logIn(c, access, c.req.query("token"), c.req.query("next")?.startsWith("/") ? c.req.query("next")! : "/"),
    );
    app.post("/api/v1/logout", (c) => {
      logOut(c);
      return c.body(null, 204);
    });
    app.use("/api/v1/*", requireAccess(access));
    // Read no body past the limit (the Content-Length says so up front, or the stream is cut there).
    app.use(
      "/api/v1/*",
      bodyLimit({
        maxSize: admin.maxBodyBytes ?? ADMIN_MAX_BODY_BYTES,
        onError: (c) =>
          c.json({ error: `request body exceeds ${admin.maxBodyBytes ?? ADMIN_MAX_BODY_BYTES} bytes` }, 413),
      }),
    );
    app.use("/metrics", requireAccess(access));
    registerCountMetrics(registry, admin.hub, bmdb);
    app.get("/metrics", async (c) => c.text(await registry.metrics(), 200, { "content-type": registry.contentType }));
    app.route(
      "/api/v1",
      adminApi({
        bmdb,
        hub: admin.hub,
        recoveryTimeouts: admin.recoveryTimeouts,
        bulkLimit: admin.bulkLimit,
        demo: admin.demo,
      }),
    );
    app.route("/api/v1", ownedApi({ bmdb, hub: admin.hub, power: admin.power }));
    app.all("/api/*", (c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));

    // Pages: `?token=` logs in and comes back without it; no access, a login page.
    app.use("*", async (c, next) => {
      if (c.req.method !== "GET" || c.req.path.startsWith("/assets/")) return await next();
      const url = new URL(c.req.url);
      if (url.searchParams.has("token")) return logIn(c, access, url.searchParams.get("token")!, withoutToken(url));
      if (!hasAccess(c, access)) return c.html(loginPage(), 401);
      await next();
    });
    if (admin.ui) app.route("/", admin.ui);
    else app.get("/", (c) => c.text("The dashboard is not built into this server (run deno task build:ui).", 503));
  }

  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    const answer = answerError(error, c);
    if (answer) return answer;
    logger.error("request failed", { method: c.req.method, path: c.req.path, error });
    return c.json({ error: "internal error; see the server's log" }, 500);
  });
  return app as unknown as Hono;
}
