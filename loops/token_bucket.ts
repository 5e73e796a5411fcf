/**
 * A token bucket with abortable waits: the DB query rate limiter the control
 * loops share (by default one token per 250 ms, a burst of 8, as the seed's
 * `250ms,8`).
 *
 * Written here rather than taken from npm: `limiter` (the common token
 * bucket) has no AbortSignal and starts empty, and a wrapper adding both is
 * as long as the bucket itself. Waiters are served in arrival order, so a
 * steady stream of callers cannot starve one.
 *
 * @module
 */

export interface TokenBucketOptions {
  /** Time for one token to accrue, in milliseconds (> 0). */
  intervalMs: number;
  /** Tokens the bucket holds at most, and at start (an integer >= 1). */
  burst: number;
}

interface Waiter {
  resolve(): void;
  reject(reason: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** Parses the seed's flag syntax `"<interval>,<burst>"`, e.g. `"250ms,8"` or `"1s,4"`. */
export function parseRate(text: string): TokenBucketOptions {
  const match = /^\s*(\d+(?:\.\d+)?)(ms|s)\s*,\s*(\d+)\s*$/.exec(text);
  if (!match) {
    throw new RangeError(`A rate must look like "250ms,8" (interval, burst): current value is ${JSON.stringify(text)}`);
  }
  const intervalMs = Number(match[1]) * (match[2] === "s" ? 1000 : 1);
  return checkOptions({ intervalMs, burst: Number(match[3]) });
}

function checkOptions(options: TokenBucketOptions): TokenBucketOptions {
  if (!(Number.isFinite(options.intervalMs) && options.intervalMs > 0)) {
    throw new RangeError(`intervalMs must be a positive number: current value is ${options.intervalMs}`);
  }
  if (!(Number.isInteger(options.burst) && options.burst >= 1)) {
    throw new RangeError(`burst must be an integer >= 1: current value is ${options.burst}`);
  }
  return options;
}

export class TokenBucket {
  readonly intervalMs: number;
  readonly burst: number;
  #tokens: number;
  #refilledAt = performance.now();
  readonly #waiters: Waiter[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: TokenBucketOptions) {
    const { intervalMs, burst } = checkOptions(options);
    this.intervalMs = intervalMs;
    this.burst = burst;
    this.#tokens = burst;
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + (now - this.#refilledAt) / this.intervalMs);
    this.#refilledAt = now;
  }

  /** Takes a token if one is there now; never waits. */
  tryTake(): boolean {
    this.#refill();
    if (this.#waiters.length > 0 || this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Resolves when a token is taken (at once while the bucket holds one).
   * @throws the signal's reason when it aborts first; the place in line is given up.
   */
  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.tryTake()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(signal.reason);
          this.#schedule();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#waiters.push(waiter);
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#refill();
    while (this.#waiters.length > 0 && this.#tokens >= 1) {
      const waiter = this.#waiters.shift()!;
      if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      this.#tokens -= 1;
      waiter.resolve();
    }
    if (this.#waiters.length > 0) {
      const waitMs = Math.max(1, (1 - this.#tokens) * this.intervalMs);
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#schedule();
      }, waitMs);
    }
  }
}
