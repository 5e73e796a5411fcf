/**
 * A first-in, first-out semaphore: up to `capacity` holders at a time,
 * waiters served in arrival order, a waiter whose signal aborts leaves the
 * queue at once. With capacity 1 it is a BMC's gate (one request in flight);
 * with `maxInFlight` it is the pool's shared limit.
 *
 * @module
 */

interface Waiter {
  grant: () => void;
  refuse: (reason: unknown) => void;
}

/** Up to `capacity` holders at a time, in arrival order. */
export class FifoSemaphore {
  readonly #capacity: number;
  #held = 0;
  /** Set by `close()`: the reason every later `acquire` rejects with. */
  #closed: { reason: unknown } | undefined;
  readonly #queue: Waiter[] = [];
  readonly #idle: (() => void)[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Cannot create semaphore: capacity must be an integer >= 1: current value is ${capacity}`);
    }
    this.#capacity = capacity;
  }

  /** Holders now. */
  get held(): number {
    return this.#held;
  }

  /** Waiters now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * Waits for a place and returns its release function, which must be called
   * exactly once (later calls do nothing). Rejects with the signal's reason
   * when it aborts while waiting (the waiter leaves the queue), and with the
   * close reason once the semaphore is closed.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.#closed) return Promise.reject(this.#closed.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#held < this.#capacity && this.#queue.length === 0) {
      this.#held++;
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

  /** Rejects every waiter and every later `acquire` with `reason`. Holders keep their places until they release. */
  close(reason: unknown): void {
    this.#closed ??= { reason };
    for (const waiter of this.#queue.splice(0)) waiter.refuse(reason);
  }

  /** Resolves once nobody holds a place (at once if nobody does). */
  idle(): Promise<void> {
    if (this.#held === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      // Hand the place straight to the next waiter, so no newcomer can overtake it.
      if (next !== undefined) {
        next.grant();
        return;
      }
      this.#held--;
      if (this.#held === 0) { for (const resolve of this.#idle.splice(0)) resolve(); }
    };
  }
}
