/**
 * Backoff after failed work: how long a (machine, process) stays out of its
 * workflow after `work.fail()`.
 *
 * @module
 */
import * as check from "./validate.ts";

/**
 * A backoff policy, usually one constant per process.
 *
 * Normalised before use: `exponent < 1` becomes 1, `initialSeconds < 1`
 * becomes 1, `maximumSeconds < initialSeconds` becomes `initialSeconds`. An
 * exponent of 0 or 1 gives a constant backoff of `initialSeconds`. Otherwise
 * each failure after a failure multiplies the previous interval by `exponent`,
 * capped at `maximumSeconds` and rounded up to whole seconds. A finish clears
 * the history, so the next failure starts at `initialSeconds` again.
 */
export interface Backoff {
  initialSeconds: number;
  maximumSeconds: number;
  exponent: number;
}

/**
 * Checks a backoff's fields.
 * @throws {InvalidArgumentError} naming `${field}.initialSeconds` etc. for a negative or non-finite value.
 */
export function validateBackoff(field: string, backoff: unknown): Backoff {
  const b = check.options(field, backoff as Record<string, unknown> | undefined);
  return {
    initialSeconds: check.finite(`${field}.initialSeconds`, b.initialSeconds),
    maximumSeconds: check.finite(`${field}.maximumSeconds`, b.maximumSeconds),
    exponent: check.finite(`${field}.exponent`, b.exponent),
  };
}

/** The policy with the normalisation rules applied. */
export function normalizeBackoff(b: Backoff): Backoff {
  const exponent = b.exponent < 1 ? 1 : b.exponent;
  const initialSeconds = b.initialSeconds < 1 ? 1 : b.initialSeconds;
  const maximumSeconds = b.maximumSeconds < initialSeconds ? initialSeconds : b.maximumSeconds;
  return { initialSeconds, maximumSeconds, exponent };
}

/**
 * The next backoff interval in whole seconds, given the interval the previous
 * failure stored (`null` when there was none, or a finish cleared it).
 */
export function nextBackoffSeconds(backoff: Backoff, previousSeconds: number | null): number {
  const b = normalizeBackoff(backoff);
  const initial = Math.ceil(b.initialSeconds);
  if (b.exponent === 1 || previousSeconds === null) return initial;
  // In whole nanoseconds, truncated, as Monogon computes it: in float seconds
  // 90 × 1.1 is 99.00000000000001, which would round up to 100.
  const previousNanos = Math.max(1, previousSeconds) * 1e9;
  const nextNanos = Math.min(Math.trunc(previousNanos * b.exponent), b.maximumSeconds * 1e9);
  // Rounding up guarantees growth even for small exponents (1.1 × 1 s → 2 s).
  return Math.max(1, Math.ceil(nextNanos / 1e9));
}
