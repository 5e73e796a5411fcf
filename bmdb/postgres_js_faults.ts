/**
 * The PostgreSQL driver's guard against two faults of postgres.js 3.4 (driver
 * bugs, not ours) that show while PostgreSQL restarts, installed by
 * `openPostgresDriver` once per process, so every user of the BMDB on
 * PostgreSQL has it. Either would otherwise crash the whole process:
 *
 * - A write it scheduled with `setImmediate` runs after the connection was
 *   closed and throws "Cannot read properties of null (reading 'write')" from
 *   `nextWrite` in its connection.js, outside any promise.
 * - A promise it made and dropped while reconnecting (its array-type fetch
 *   after a connect, for one) rejects with the socket's error (ECONNRESET,
 *   say) and nobody awaits it.
 *
 * The connection is gone by then and every query the BMDB awaits has failed
 * on its own (and is retried), so the error is logged and dropped. Anything
 * else still crashes, as it should: the BMDB wraps every error it hands on in
 * a DatabaseError, so a bare socket error reaching the process is never ours.
 *
 * @module
 */
import { DatabaseError } from "./errors.ts";
import type { Logger } from "./log.ts";

/** Whether `error` is postgres.js's write on a connection it had closed. */
export function isPostgresLateWrite(error: unknown): boolean {
  return error instanceof TypeError && error.message === "Cannot read properties of null (reading 'write')" &&
    /nextWrite[^\n]*postgres[^\n]*connection\.js/.test(error.stack ?? "");
}

/** The errors a lost connection rejects with: the socket's, and postgres.js's own. */
const CONNECTION_LOSS_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
]);

/** Whether `reason` is a bare connection loss: what postgres.js's dropped promises reject with. */
export function isConnectionLoss(reason: unknown): boolean {
  // The BMDB's own errors are DatabaseErrors: one nobody awaited is our bug, and crashes.
  if (!(reason instanceof Error) || reason instanceof DatabaseError) return false;
  const code = (reason as { code?: unknown }).code;
  return typeof code === "string" && CONNECTION_LOSS_CODES.has(code);
}

let installed = false;

/** Installs the guard for this process (once; later calls do nothing). It reports through `logger`. */
export function guardPostgresJsFaults(logger: Logger): void {
  if (installed) return;
  installed = true;
  globalThis.addEventListener("error", (event: ErrorEvent) => {
    if (!isPostgresLateWrite(event.error)) return;
    event.preventDefault();
    logger.warn("postgres.js wrote to a connection it had closed (a driver bug); dropped", { error: event.error });
  });
  globalThis.addEventListener("unhandledrejection", (event: PromiseRejectionEvent) => {
    if (!isConnectionLoss(event.reason)) return;
    event.preventDefault();
    logger.warn("a lost connection's error that nobody awaited (postgres.js drops some promises while reconnecting)", {
      error: event.reason,
    });
  });
}
