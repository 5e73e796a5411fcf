/**
 * Fault injection: {@link BmcFaults} is a plain object a test or the control
 * endpoint changes while the BMC runs (`sim.faults.errorRate = 0.5`); the
 * request pipeline (app.ts) takes from it with the functions here, in this
 * order: latency, hang, unavailable, error rate (all before acting), then a
 * lost reply (after acting).
 *
 * @module
 */

/** Faults of one BMC, mutable at run time. Counts go down as requests take them. */
export interface BmcFaults {
  /** Every reply delayed by this (uniform in the range). */
  latencyMs?: number | { min: number; max: number };
  /** Fraction (0..1) of requests answered 500 (Base InternalError) before acting. */
  errorRate?: number;
  /** The next `count` requests answer 503 with `Retry-After: retryAfterSeconds`, before acting. */
  unavailable?: { count: number; retryAfterSeconds: number };
  /** The next N POST/PATCH/DELETE requests are carried out, then their connection is dropped with no reply. */
  loseReplies?: number;
  /** The next N requests never get a reply (until the client gives up or the simulator closes). */
  hang?: number;
}

/** The methods whose replies `loseReplies` loses. */
const CHANGING_METHODS: ReadonlySet<string> = new Set(["POST", "PATCH", "DELETE", "PUT"]);

/** This request's delay in milliseconds (0 without latency). */
export function latencyFor(faults: BmcFaults): number {
  const latency = faults.latencyMs;
  if (latency === undefined) return 0;
  if (typeof latency === "number") return Math.max(0, latency);
  const { min, max } = latency;
  return Math.max(0, min + Math.random() * Math.max(0, max - min));
}

/** True when this request is to hang (taking one from `hang`). */
export function takeHang(faults: BmcFaults): boolean {
  if (!(faults.hang !== undefined && faults.hang >= 1)) return false;
  faults.hang--;
  return true;
}

/** The `Retry-After` seconds when this request is to answer 503 (taking one from `unavailable`). */
export function takeUnavailable(faults: BmcFaults): number | undefined {
  const unavailable = faults.unavailable;
  if (!(unavailable !== undefined && unavailable.count >= 1)) return undefined;
  unavailable.count--;
  if (unavailable.count < 1) faults.unavailable = undefined;
  return Math.max(0, Math.round(unavailable.retryAfterSeconds));
}

/** True when this request is to answer 500 (at `errorRate`). */
export function takeServerError(faults: BmcFaults): boolean {
  return faults.errorRate !== undefined && faults.errorRate > 0 && Math.random() < faults.errorRate;
}

/** True when this request's reply is to be lost (a changing method, taking one from `loseReplies`). */
export function takeLostReply(faults: BmcFaults, method: string): boolean {
  if (!CHANGING_METHODS.has(method) || !(faults.loseReplies !== undefined && faults.loseReplies >= 1)) return false;
  faults.loseReplies--;
  return true;
}
