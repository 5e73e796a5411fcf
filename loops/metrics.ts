/**
 * Per-loop Prometheus metrics: claims, finishes, failures, conflicts, idle
 * polls and processing latency, each labelled with the loop's name.
 *
 * @module
 */
import { Counter, Histogram, type Registry } from "prom-client";

/** The metrics of every loop on one registry (shared: one set of series per registry). */
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

const byRegistry = new WeakMap<Registry, LoopMetrics>();

/** The loop metrics on `registry`, registered on first use. */
export function loopMetrics(registry: Registry): LoopMetrics {
  let metrics = byRegistry.get(registry);
  if (metrics) return metrics;
  const counter = (name: string, help: string) =>
    new Counter({ name, help, labelNames: ["loop"] as const, registers: [registry] });
  metrics = {
    claims: counter("drover_loop_claims_total", "Machines a loop locked for processing."),
    finishes: counter("drover_loop_finishes_total", "Work a loop committed (finished)."),
    failures: counter("drover_loop_failures_total", "Work a loop failed (processing threw; the machine backs off)."),
    conflicts: counter("drover_loop_conflicts_total", "Claims that lost the machine to another session."),
    idlePolls: counter("drover_loop_idle_polls_total", "Claims that found no eligible machine."),
    errors: counter("drover_loop_errors_total", "Unexpected errors outside processing; the worker paused."),
    processingSeconds: new Histogram({
      name: "drover_loop_processing_seconds",
      help: "Time a loop spent on one machine's side effects.",
      labelNames: ["loop"] as const,
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
      registers: [registry],
    }),
  };
  byRegistry.set(registry, metrics);
  return metrics;
}
