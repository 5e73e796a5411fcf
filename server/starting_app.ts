/**
 * What the server answers while the service starts (waiting for its
 * database, migrating): alive on `/healthz`, not ready on `/readyz` with the
 * reason, and 503 with the same reason for everything else, so a load
 * balancer or an operator's curl sees why, not a refused connection.
 *
 * @module
 */
import { Hono } from "hono";

/** `status()` is read on each request: e.g. "waiting for the database: db1:5432 unreachable (…)". */
export function startingApp(status: () => string): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => c.json({ status: "starting", problem: status() }, 503));
  app.all("*", (c) => c.json({ error: `Drover is starting: ${status()}` }, 503, { "Retry-After": "5" }));
  return app;
}
