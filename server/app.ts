/**
 * The Drover server's Hono app: the agent API and health, so far (the admin
 * API and the dashboard mount here too).
 *
 * @module
 */
import { Hono } from "hono";
import type { Registry } from "prom-client";
import type { Bmdb, Logger } from "../bmdb/mod.ts";
import { AGENT_API_PREFIX } from "../agent/mod.ts";
import { agentApi, type AgentApiOptions } from "./agent_api.ts";

export interface ServerAppOptions {
  bmdb: Bmdb;
  logger: Logger;
  registry: Registry;
  /** Options of the agent API beyond the shared ones. */
  agentApi?: Omit<AgentApiOptions, "bmdb" | "logger" | "registry">;
}

export function serverApp(options: ServerAppOptions): Hono {
  const app = new Hono();
  // Liveness: the process serves requests. (Readiness, which asks the database, is /readyz.)
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.route(
    AGENT_API_PREFIX,
    agentApi({ ...options.agentApi, bmdb: options.bmdb, logger: options.logger, registry: options.registry }),
  );
  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
