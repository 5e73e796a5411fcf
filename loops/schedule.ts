/**
 * The schedule of the periodic loops (provisioner, updater, reservations
 * publisher, janitor): a pass, then a wait, until the signal aborts. A failed
 * pass is reported and the next one comes at the usual time, or sooner when
 * a {@linkcode Nudge} asks for one (an inventory file that changed).
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Asks the loops that wait on it for a pass now. A nudge that comes while a
 * pass runs is kept, so the change it announces is seen by the next pass.
 */
export class Nudge {
  #waiters = new Set<() => void>();
  #pending = new WeakSet<object>();
  #loops = new Set<object>();

  /** Every loop waiting on it passes as soon as it can. */
  nudge(): void {
    for (const loop of this.#loops) this.#pending.add(loop);
    for (const wake of this.#waiters) wake();
  }

  /** `loop` waits on it from now on: a nudge while it is not waiting is kept for its next wait. */
  join(loop: object): void {
    this.#loops.add(loop);
  }

  /** Resolves when nudged (at once if nudged since the last wait of `loop`), or when `signal` aborts. */
  async wait(loop: object, signal: AbortSignal): Promise<void> {
    if (this.#pending.has(loop)) {
      this.#pending.delete(loop);
      return;
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    const wake = () => resolve();
    this.#waiters.add(wake);
    signal.addEventListener("abort", wake, { once: true });
    try {
      await promise;
    } finally {
      this.#waiters.delete(wake);
      signal.removeEventListener("abort", wake);
      this.#pending.delete(loop);
    }
  }

  /** Forgets `loop` (it stopped). */
  leave(loop: object): void {
    this.#loops.delete(loop);
  }
}

/**
 * Runs `pass` every `intervalMs` (from the end of one to the start of the
 * next), and at once when `nudge` is nudged, until `signal` aborts.
 */
export async function runEvery(
  intervalMs: number,
  signal: AbortSignal,
  pass: (signal: AbortSignal) => Promise<unknown>,
  onError: (error: unknown) => void,
  nudge?: Nudge,
): Promise<void> {
  const me = {};
  nudge?.join(me);
  try {
    while (!signal.aborted) {
      try {
        await pass(signal);
      } catch (error) {
        if (signal.aborted) return;
        onError(error);
      }
      const waited = new AbortController();
      const both = AbortSignal.any([signal, waited.signal]);
      await Promise.race([
        sleep(intervalMs, undefined, { signal: both }).catch(() => {}),
        nudge?.wait(me, both),
      ].filter(Boolean));
      waited.abort();
    }
  } finally {
    nudge?.leave(me);
  }
}
