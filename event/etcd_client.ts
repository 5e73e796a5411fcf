/**
 * The etcd client for a cluster: every member listed, a deadline on each
 * attempt of a call, retries on the next member spread over an election, and
 * per-member circuit breakers that close again quickly.
 *
 * @module
 */
import { Etcd3, isRecoverableError } from "etcd3";
import {
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  isBrokenCircuitError,
  retry,
} from "cockatiel";

/** Options of {@linkcode connectEtcd}. */
export interface EtcdClientOptions {
  /**
   * How long one attempt of a unary call (get, put, delete) may take before
   * it is abandoned and retried on the next member. Streams (watches) have none.
   * @default 2000
   */
  attemptTimeoutMs?: number;
  /** Retries of a call that failed recoverably (unavailable, deadline, every circuit open). @default 5 */
  retries?: number;
  /** How long a member's circuit stays open after 3 failures in a row before one call tries it again. @default 1000 */
  reopenAfterMs?: number;
}

/**
 * An etcd3 client of the members at `endpoints` (`http://host:port`, as
 * `ETCD_ENDPOINTS` lists them), tuned for losing any one of them, the
 * leader included:
 *
 * - Each attempt of a unary call has a deadline (2 s). A write that reaches a
 *   follower just as the leader dies is forwarded to the dead leader and lost:
 *   etcd never answers it, so only the deadline ends it (etcd3's calls have
 *   none by default). 2 s is twice etcd's default election timeout, and a
 *   healthy member answers in milliseconds.
 * - A member's circuit opens after 3 failures in a row (a dead member is then
 *   skipped instead of costing each call a deadline) and lets a call try it
 *   again after 1 s (etcd3's default: 5 s).
 * - A recoverably failed attempt is retried on the next member (etcd3 picks a
 *   new one per attempt), up to 5 times with jittered backoff from 100 ms to
 *   1 s, and so is an attempt that found every circuit open. When the leader
 *   dies, the writes in flight time out together, so the live members count
 *   "3 failures in a row" too and every circuit opens: with etcd3's defaults
 *   (5 s deadline, 5 s circuits, a broken circuit not retried) 50 concurrent
 *   writers then failed every call for 5 s after hanging 5 s; with these, none
 *   failed and the slowest write took about 4 s.
 *
 * Close it with `close()`.
 *
 * @throws {RangeError} `endpoints` is empty, or an option is out of range.
 */
export function connectEtcd(endpoints: readonly string[], options: EtcdClientOptions = {}): Etcd3 {
  const { attemptTimeoutMs = 2_000, retries = 5, reopenAfterMs = 1_000 } = options;
  if (endpoints.length === 0) throw new RangeError("Cannot connect to etcd: endpoints must not be empty");
  for (
    const [name, value, least] of [
      ["attemptTimeoutMs", attemptTimeoutMs, 1],
      ["retries", retries, 0],
      ["reopenAfterMs", reopenAfterMs, 1],
    ] as const
  ) {
    if (!Number.isInteger(value) || value < least) {
      throw new RangeError(`Cannot connect to etcd: ${name} must be an integer >= ${least}: current value is ${value}`);
    }
  }
  return new Etcd3({
    hosts: [...endpoints],
    defaultCallOptions: (context) => context.isStream ? {} : { deadline: Date.now() + attemptTimeoutMs },
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), {
          halfOpenAfter: reopenAfterMs,
          breaker: new ConsecutiveBreaker(3),
        }),
      global: retry(handleWhen((error) => isRecoverableError(error) || isBrokenCircuitError(error)), {
        maxAttempts: retries,
        backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }),
      }),
    },
  });
}
