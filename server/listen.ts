/**
 * Serving the app with `Deno.serve`, and stopping it cleanly.
 *
 * @module
 */
import type { Hono } from "hono";

/** A running HTTP server. */
export interface RunningServer extends AsyncDisposable {
  /** `http://<host>:<port>`, the port resolved when 0 was asked for. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish, and resolves when it is closed. */
  shutdown(): Promise<void>;
}

/** Serves `app` on `hostname:port` (port 0: any free port). */
export function listen(app: Hono, { hostname, port }: { hostname: string; port: number }): RunningServer {
  const server = Deno.serve({ hostname, port, onListen() {} }, app.fetch);
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let stopping: Promise<void> | undefined;
  const shutdown = () => stopping ??= server.shutdown();
  return { url: `http://${host}:${addr.port}`, port: addr.port, shutdown, [Symbol.asyncDispose]: shutdown };
}
