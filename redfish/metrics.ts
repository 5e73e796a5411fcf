/**
 * Prometheus metrics of the Redfish client. No metric carries a per-BMC label:
 * a fleet has thousands of BMCs, and a series per BMC would swamp Prometheus
 * (logs name the BMC instead). Each metric is registered once per registry
 * and shared by every pool on it ({@linkcode counterOn} and friends return the
 * one already there); the gauges move by `inc`/`dec`, so several pools on one
 * registry add up.
 *
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What a request was for: the `operation` label. */
export type Operation =
  | "service_root"
  | "systems"
  | "system"
  | "action_info"
  | "reset"
  | "task_monitor"
  | "session_create"
  | "session_delete";

/** What one HTTP exchange got: the `outcome` label of `drover_redfish_requests_total`. */
export type RequestOutcome =
  | "2xx"
  | "401"
  | "4xx"
  | "429"
  | "503"
  | "5xx"
  | "timeout"
  | "unreachable"
  | "malformed"
  | "aborted";

/** The metric names, for dashboards and tests. */
export const METRIC_NAMES = {
  requests: "drover_redfish_requests_total",
  requestSeconds: "drover_redfish_request_duration_seconds",
  retries: "drover_redfish_retries_total",
  resets: "drover_redfish_resets_total",
  powerActions: "drover_redfish_power_actions_total",
  powerActionSeconds: "drover_redfish_power_action_duration_seconds",
  sessions: "drover_redfish_session_events_total",
  inFlight: "drover_redfish_requests_in_flight",
  queued: "drover_redfish_requests_queued",
  sessionsOpen: "drover_redfish_sessions_open",
  clients: "drover_redfish_clients",
} as const;

/** The client's metrics on one registry. */
export interface RedfishMetrics {
  /** HTTP exchanges with BMCs, by operation and outcome (retries are separate exchanges). */
  requests: Counter<"operation" | "outcome">;
  /** Duration of one HTTP exchange (not the wait for its turn), seconds. */
  requestSeconds: Histogram<"operation">;
  /** Retries after a transient failure, by operation and what failed (`timeout`, `unreachable`, `5xx`, `503`, `429`). */
  retries: Counter<"operation" | "reason">;
  /** ComputerSystem.Reset requests, by ResetType and outcome (`accepted`, `unknown`, `conflict`, `failed`). */
  resets: Counter<"reset_type" | "outcome">;
  /** Power actions (`on`, `off`, `restart`) ended, by result (`ok`, `transition_failed`, `unsupported`, `aborted`, `error`). */
  powerActions: Counter<"action" | "result">;
  /** Whole power actions, from the first read to the settled state, seconds. */
  powerActionSeconds: Histogram<"action">;
  /** Session events: `created`, `renewed` (after a 401), `deleted`, `refused` (the BMC gave none: HTTP basic). */
  sessions: Counter<"event">;
  /** HTTP exchanges in flight now (each holds one of the pool's `maxInFlight` slots). */
  inFlight: Gauge;
  /** Requests waiting now: for their BMC's turn, or for a pool slot. */
  queued: Gauge;
  /** Redfish sessions the clients hold now. */
  sessionsOpen: Gauge;
  /** Clients (BMCs) open now. */
  clients: Gauge;
}

/** The Redfish metrics on `registry`, registering each on first use. */
export function redfishMetrics(registry: Registry): RedfishMetrics {
  return {
    requests: counterOn(registry, METRIC_NAMES.requests, "HTTP exchanges with BMCs, by operation and outcome.", [
      "operation",
      "outcome",
    ]),
    requestSeconds: histogramOn(
      registry,
      METRIC_NAMES.requestSeconds,
      "Duration of one HTTP exchange with a BMC (not its wait for a turn), seconds.",
      ["operation"],
      // BMCs answer in tens of milliseconds to tens of seconds (a reset on a busy iDRAC).
      [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    ),
    retries: counterOn(registry, METRIC_NAMES.retries, "Redfish requests retried after a transient failure.", [
      "operation",
      "reason",
    ]),
    resets: counterOn(registry, METRIC_NAMES.resets, "ComputerSystem.Reset requests, by ResetType and outcome.", [
      "reset_type",
      "outcome",
    ]),
    powerActions: counterOn(registry, METRIC_NAMES.powerActions, "Power actions (on, off, restart) ended, by result.", [
      "action",
      "result",
    ]),
    powerActionSeconds: histogramOn(
      registry,
      METRIC_NAMES.powerActionSeconds,
      "Whole power actions, from the first read to the settled power state, seconds.",
      ["action"],
      [0.5, 1, 5, 15, 30, 60, 120, 300, 600],
    ),
    sessions: counterOn(
      registry,
      METRIC_NAMES.sessions,
      "Redfish session events (created, renewed, deleted, refused).",
      [
        "event",
      ],
    ),
    inFlight: gaugeOn(registry, METRIC_NAMES.inFlight, "HTTP exchanges with BMCs in flight now."),
    queued: gaugeOn(registry, METRIC_NAMES.queued, "Redfish requests waiting for their BMC's turn or a pool slot."),
    sessionsOpen: gaugeOn(registry, METRIC_NAMES.sessionsOpen, "Redfish sessions held now."),
    clients: gaugeOn(registry, METRIC_NAMES.clients, "Redfish clients (one per BMC) open now."),
  };
}

/** The counter `name` on `registry`, registered on first use. */
export function counterOn<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Counter<L> {
  const found = registry.getSingleMetric(name);
  if (found === undefined) return new Counter({ name, help, labelNames, registers: [registry] });
  if (found instanceof Counter) return found;
  throw new TypeError(`Cannot register Redfish metrics: ${name} is already registered as another type`);
}

/** The gauge `name` on `registry`, registered on first use. */
export function gaugeOn(registry: Registry, name: string, help: string): Gauge {
  const found = registry.getSingleMetric(name);
  if (found === undefined) return new Gauge({ name, help, registers: [registry] });
  if (found instanceof Gauge) return found;
  throw new TypeError(`Cannot register Redfish metrics: ${name} is already registered as another type`);
}

/** The histogram `name` on `registry`, registered on first use. */
export function histogramOn<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  const found = registry.getSingleMetric(name);
  if (found === undefined) return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
  if (found instanceof Histogram) return found;
  throw new TypeError(`Cannot register Redfish metrics: ${name} is already registered as another type`);
}
