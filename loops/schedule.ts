/**
 * The schedule of the periodic loops (provisioner, updater, reservations
 * publisher, janitor): a pass, then a wait, until the signal aborts. A failed
 * pass is reported and the next one comes at the usual time.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Runs `pass` every `intervalMs` (from the end of one to the start of the next) until `signal` aborts. */
export async function runEvery(
  intervalMs: number,
  signal: AbortSignal,
  pass: (signal: AbortSignal) => Promise<unknown>,
  onError: (error: unknown) => void,
): Promise<void> {
  while (!signal.aborted) {
    try {
      await pass(signal);
    } catch (error) {
      if (signal.aborted) return;
      onError(error);
    }
    await sleep(intervalMs, undefined, { signal }).catch(() => {});
  }
}
