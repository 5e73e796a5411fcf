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
  /** Stops accepting, lets requests in flight finish, and resolves when it is closed. Idempotent. */
  shutdown(): Promise<void>;
  /** Serves `app` from now on (the start-up app, say, replaced by the whole service's). */
  serve(app: Hono): void;
}

/** Serves `app` on `hostname:port` (port 0: any free port). */
export function listen(app: Hono, { hostname, port }: { hostname: string; port: number }): RunningServer {
  let current = app;
  const server = Deno.serve({ hostname, port, onListen() {} }, (request, info) => current.fetch(request, info));
  const addr = server.addr;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  let stopping: Promise<void> | undefined;
  const shutdown = () => stopping ??= server.shutdown();
  return {
    url: `http://${host}:${addr.port}`,
    port: addr.port,
    shutdown,
    serve: (next) => void (current = next),
    [Symbol.asyncDispose]: shutdown,
  };
}
