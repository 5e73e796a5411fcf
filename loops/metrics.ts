/**
 * The loops' Prometheus metrics. Every metric is registered once per
 * registry ({@linkcode counterOn}, {@linkcode gaugeOn}, {@linkcode histogramOn}
 * return the one already there), so several loops, runners or replicas of a
 * loop in one process share their series.
 *
 * @module
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The counter `name` on `registry`, registered on first use. */
export function counterOn<L extends string = never>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ??
    new Counter({ name, help, labelNames, registers: [registry] });
}

/** The gauge `name` on `registry`, registered on first use. */
export function gaugeOn(registry: Registry, name: string, help: string): Gauge {
  return (registry.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help, registers: [registry] });
}

/** The histogram `name` on `registry`, registered on first use. */
export function histogramOn<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  buckets: number[],
): Histogram<L> {
  return (registry.getSingleMetric(name) as Histogram<L> | undefined) ??
    new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/** The runner's metrics, each labelled with the loop's name. */
export interface LoopMetrics {
  claims: Counter<"loop">;
  finishes: Counter<"loop">;
  failures: Counter<"loop">;
  conflicts: Counter<"loop">;
  idlePolls: Counter<"loop">;
  /** Unexpected errors outside processing (database unreachable, say); the worker pauses and goes on. */
  errors: Counter<"loop">;
  processingSeconds: Histogram<"loop">;
}

/** The runner's metrics on `registry`. */
export function loopMetrics(registry: Registry): LoopMetrics {
  const counter = (name: string, help: string) => counterOn(registry, name, help, ["loop"] as const);
  return {
    claims: counter("drover_loop_claims_total", "Machines a loop locked for processing."),
    finishes: counter("drover_loop_finishes_total", "Work a loop committed (finished)."),
    failures: counter("drover_loop_failures_total", "Work a loop failed (processing threw; the machine backs off)."),
    conflicts: counter("drover_loop_conflicts_total", "Claims that lost the machine to another session."),
    idlePolls: counter("drover_loop_idle_polls_total", "Claims that found no eligible machine."),
    errors: counter("drover_loop_errors_total", "Unexpected errors outside processing; the worker paused."),
    processingSeconds: histogramOn(
      registry,
      "drover_loop_processing_seconds",
      "Time a loop spent on one machine's side effects.",
      ["loop"] as const,
      [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    ),
  };
}
