/**
 * The PostgreSQL driver's guard against a fault of postgres.js 3.4 (a driver
 * bug, not ours) that shows while PostgreSQL restarts, installed by
 * `openPostgresDriver` once per process, so every user of the BMDB on
 * PostgreSQL has it: a promise it made and dropped while reconnecting (its
 * array-type fetch after a connect, for one) rejects with the socket's error
 * (ECONNRESET, say) and nobody awaits it, which would crash the process.
 *
 * The connection is gone by then and every query the BMDB awaits has failed
 * on its own (and is retried), so the error is logged and dropped. Anything
 * else still crashes, as it should: the BMDB wraps every error it hands on in
 * a DatabaseError, so a bare socket error reaching the process is never ours.
 *
 * (Its other restart fault, a write left pending on a closed connection, is
 * fixed in the copy Drover links: vendor/postgres/PATCHED.md.)
 *
 * @module
 */
import { CONNECTION_LOSS_CODES, DatabaseError } from "./errors.ts";
import type { Logger } from "./log.ts";

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
  globalThis.addEventListener("unhandledrejection", (event: PromiseRejectionEvent) => {
    if (!isConnectionLoss(event.reason)) return;
    event.preventDefault();
    logger.warn("a lost connection's error that nobody awaited (postgres.js drops some promises while reconnecting)", {
      error: event.reason,
    });
  });
}
