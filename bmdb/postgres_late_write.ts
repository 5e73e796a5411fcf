/**
 * The PostgreSQL driver's guard against one known fault of postgres.js 3.4
 * (a driver bug, not ours), installed by `openPostgresDriver` once per
 * process, so every user of the BMDB on PostgreSQL has it: a write it scheduled with `setImmediate` runs after the connection
 * was closed (PostgreSQL restarting, say) and throws "Cannot read properties
 * of null (reading 'write')" from `nextWrite` in its connection.js, outside
 * any promise, which would crash the whole process. The connection is gone by
 * then and its queries are already failed and retried by the BMDB, so the
 * exception is logged and dropped. Anything else still crashes, as it should.
 *
 * @module
 */
import type { Logger } from "./log.ts";

/** Whether `error` is that postgres.js fault. */
export function isPostgresLateWrite(error: unknown): boolean {
  return error instanceof TypeError && error.message === "Cannot read properties of null (reading 'write')" &&
    /nextWrite[^\n]*postgres[^\n]*connection\.js/.test(error.stack ?? "");
}

let installed = false;

/** Installs the guard for this process (once; later calls do nothing). It reports through `logger`. */
export function guardPostgresLateWrites(logger: Logger): void {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (event: ErrorEvent) => {
    if (!isPostgresLateWrite(event.error)) return;
    event.preventDefault();
    logger.warn("postgres.js wrote to a connection it had closed (a driver bug); dropped", { error: event.error });
  });
}
