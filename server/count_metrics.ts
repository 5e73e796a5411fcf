/**
 * The BMDB's headline counts as Prometheus gauges, read at scrape time from
 * the event hub's newest counts (kept current by the change feed), so a
 * scrape costs no query.
 *
 * @module
 */
import { Gauge, type Registry } from "prom-client";
import type { BmdbCounts } from "../bmdb/mod.ts";
import type { EventHub } from "./event_hub.ts";

export function registerCountMetrics(registry: Registry, hub: EventHub): void {
  const counts = () => hub.snapshot().counts as BmdbCounts | undefined;
  new Gauge({
    name: "drover_machines",
    help: "Machines in the BMDB.",
    registers: [registry],
    collect() {
      const c = counts();
      if (c) this.set(c.machines);
    },
  });
  new Gauge({
    name: "drover_live_sessions",
    help: "Sessions whose deadline has not passed.",
    registers: [registry],
    collect() {
      const c = counts();
      if (c) this.set(c.liveSessions);
    },
  });
  for (
    const [name, help, key] of [
      ["drover_active_work", "Work held by live sessions, per process.", "activeWork"],
      ["drover_active_backoffs", "Backoffs that have not run out, per process.", "activeBackoffs"],
    ] as const
  ) {
    new Gauge({
      name,
      help,
      labelNames: ["process"],
      registers: [registry],
      collect() {
        const c = counts();
        if (c) { for (const [process, n] of Object.entries(c[key])) this.set({ process }, n); }
      },
    });
  }
}
