/**
 * Prometheus metrics of the Metal API client: logical calls, their errors and
 * durations, and the HTTP requests they made, each labelled with the client
 * method (`operation`).
 *
 * @module
 */
import { Counter, Histogram, type Registry } from "prom-client";

/** The client's methods: the values of the `operation` label. */
export const OPERATIONS = [
  "getDevice",
  "listDevices",
  "createDevice",
  "deleteDevice",
  "rebootDevice",
  "listReservations",
  "getReservation",
  "listSSHKeys",
  "createSSHKey",
  "updateSSHKey",
  "deleteSSHKey",
] as const;
export type Operation = typeof OPERATIONS[number];

/** Why a logical call failed: the `kind` label of `drover_equinix_errors_total`. */
export type ErrorKind =
  | "api"
  | "deadline"
  | "malformed"
  | "aborted"
  | "closed"
  | "race_lost"
  | "no_reservation"
  | "label_conflict"
  | "other";

/** What one HTTP attempt got: the `outcome` label of `drover_equinix_requests_total`. */
export type RequestOutcome = "ok" | "4xx" | "5xx" | "429" | "network" | "timeout" | "malformed" | "aborted";

/** The metric names, for dashboards and tests. */
export const METRIC_NAMES = {
  calls: "drover_equinix_calls_total",
  errors: "drover_equinix_errors_total",
  duration: "drover_equinix_call_duration_seconds",
  requests: "drover_equinix_requests_total",
} as const;

/** The client's metrics on one registry. */
export interface EquinixMetrics {
  /** Logical calls started, by operation. */
  calls: Counter<"operation">;
  /** Logical calls that failed, by operation and kind. */
  errors: Counter<"operation" | "kind">;
  /** Whole logical calls (queueing, rate-limit waits and retries included), seconds. */
  duration: Histogram<"operation">;
  /** HTTP attempts, by operation and outcome. */
  requests: Counter<"operation" | "outcome">;
}

/**
 * The client's metrics on `registry`, registering them the first time; a
 * second client on the same registry shares them (prom-client throws on a
 * second registration of a name).
 */
export function equinixMetrics(registry: Registry): EquinixMetrics {
  return {
    calls: existing(registry, METRIC_NAMES.calls, Counter) ?? new Counter({
      name: METRIC_NAMES.calls,
      help: "Metal API client calls started, by client method.",
      labelNames: ["operation"],
      registers: [registry],
    }),
    errors: existing(registry, METRIC_NAMES.errors, Counter) ?? new Counter({
      name: METRIC_NAMES.errors,
      help: "Metal API client calls that failed, by client method and kind of failure.",
      labelNames: ["operation", "kind"],
      registers: [registry],
    }),
    duration: existing(registry, METRIC_NAMES.duration, Histogram) ?? new Histogram({
      name: METRIC_NAMES.duration,
      help: "Duration of whole Metal API client calls (queueing, rate limiting and retries included), seconds.",
      labelNames: ["operation"],
      // The API rate (2 s by default) dominates: calls wait for their turn and for pages.
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    requests: existing(registry, METRIC_NAMES.requests, Counter) ?? new Counter({
      name: METRIC_NAMES.requests,
      help: "HTTP requests to the Metal API, by client method and outcome.",
      labelNames: ["operation", "outcome"],
      registers: [registry],
    }),
  };
}

/** The metric registered under `name`, if it is of the expected class. */
function existing<T>(
  registry: Registry,
  name: string,
  // deno-lint-ignore no-explicit-any -- prom-client's metric constructors differ in their generic parameters.
  kind: abstract new (...args: any[]) => T,
): T | undefined {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  if (!(metric instanceof kind)) {
    throw new TypeError(`Cannot register Metal API client metrics: ${name} is already registered as another type`);
  }
  return metric;
}
