/**
 * When a failed request is sent again, and after how long.
 *
 * Two kinds of request. An `idempotent` one (every GET and DELETE, and the
 * session POST) is retried after any transient failure: no reply, a timeout,
 * a 5xx (but 501), a 429. A `once` request (ComputerSystem.Reset) is retried
 * only where the BMC certainly did not act: the connection was never
 * established, or the BMC said 503/429 ("busy, come back"). After a timeout,
 * a lost reply or a 500 its outcome is unknown ({@linkcode outcomeUnknown}),
 * and the caller reads the power state instead of resending: resending could
 * reset a machine twice.
 *
 * @module
 */
import { BmcTimeoutError, BmcUnreachableError, RedfishError } from "./errors.ts";

/** How a request may be retried. */
export type RetryClass = "idempotent" | "once";

/** What a retried failure was: the `reason` label of `drover_redfish_retries_total`. */
export type RetryReason = "timeout" | "unreachable" | "5xx" | "503" | "429";

/**
 * A `Retry-After` longer than this is not waited for: the failure goes to the
 * caller at once (a BMC that says "come back in 10 minutes" is down, and the
 * caller's own backoff is the place for such waits).
 */
export const RETRY_AFTER_CAP_MS = 60_000;

/** Why `error` may be retried for a request of `retryClass`, or undefined when it may not. */
export function retryReason(retryClass: RetryClass, error: unknown): RetryReason | undefined {
  if (error instanceof RedfishError) {
    if (error.status === 503) return "503";
    if (error.status === 429) return "429";
    if (retryClass === "idempotent" && error.status >= 500 && error.status !== 501) return "5xx";
    return undefined;
  }
  if (error instanceof BmcUnreachableError) {
    // A certificate that failed verification fails the same way next time.
    if (error.reason === "tls") return undefined;
    return retryClass === "idempotent" || !error.maybeDelivered ? "unreachable" : undefined;
  }
  if (error instanceof BmcTimeoutError) {
    return retryClass === "idempotent" || !error.maybeDelivered ? "timeout" : undefined;
  }
  return undefined;
}

/**
 * Whether a `once` request that failed with `error` may nevertheless have
 * been acted on: a timeout or a lost reply after the request went out, or a
 * 5xx other than 503 (the BMC may have failed after acting) and 501.
 */
export function outcomeUnknown(error: unknown): boolean {
  if (error instanceof BmcTimeoutError) return error.maybeDelivered;
  if (error instanceof BmcUnreachableError) return error.maybeDelivered && error.reason !== "tls";
  if (error instanceof RedfishError) return error.status >= 500 && error.status !== 503 && error.status !== 501;
  return false;
}

/**
 * The wait before retry number `retry` (1 for the first retry): doubling from
 * `initialDelayMs`, capped at `maxDelayMs`, then jittered into [half, whole]
 * so that BMCs failed by one event (a switch reboot) are not all retried in
 * step.
 */
export function backoffDelayMs(
  retry: number,
  { initialDelayMs, maxDelayMs }: { initialDelayMs: number; maxDelayMs: number },
  random: () => number = Math.random,
): number {
  const whole = Math.min(maxDelayMs, initialDelayMs * 2 ** (retry - 1));
  return Math.round(whole / 2 + random() * (whole / 2));
}
