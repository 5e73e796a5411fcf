/**
 * A first-in, first-out gate: one holder at a time, waiters served in
 * arrival order, a waiter whose signal aborts leaves the queue at once.
 *
 * @module
 */

interface Waiter {
  grant: () => void;
  refuse: (reason: unknown) => void;
}

/** One holder at a time, in arrival order. */
export class FifoGate {
  #held = false;
  /** Set by `close()`: the reason every later `acquire` rejects with. */
  #closed: { reason: unknown } | undefined;
  readonly #queue: Waiter[] = [];

  /**
   * Waits for the gate and returns its release function, which must be
   * called exactly once (later calls do nothing).
   * Rejects with the signal's reason when it aborts while waiting (the
   * waiter leaves the queue), and with the close reason once the gate is closed.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.#closed) return Promise.reject(this.#closed.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(this.#releaser());
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.#queue.indexOf(waiter);
        if (index >= 0) this.#queue.splice(index, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.#releaser());
        },
        refuse: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#queue.push(waiter);
    });
  }

  /** Rejects every waiter and every later `acquire` with `reason`. The holder keeps the gate until it releases. */
  close(reason: unknown): void {
    this.#closed = { reason };
    for (const waiter of this.#queue.splice(0)) waiter.refuse(reason);
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // Hand the gate straight to the next waiter, so no newcomer can overtake it.
      if (next === undefined) this.#held = false;
      else next.grant();
    };
  }
}
