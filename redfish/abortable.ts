/**
 * Waits that end early when a signal aborts, rejecting with the signal's
 * reason (not a wrapper), as std's `delay` and `abortable` do.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Sleeps `ms`; rejects with the signal's reason when it aborts. */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    throw signal.aborted ? signal.reason : error;
  }
}

/**
 * `promise`, or the signal's reason as soon as it aborts (the promise goes
 * on: for work shared by several waiters, each with its own signal).
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
