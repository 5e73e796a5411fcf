/**
 * The BMDB's headline counts as Prometheus gauges, read at scrape time from
 * the event hub's newest counts (kept current by the change feed), so a
 * scrape costs no query.
 *
 * @module
 */
import { Gauge, type Registry } from "prom-client";
import type { Bmdb, BmdbCounts } from "../bmdb/mod.ts";
import type { EventHub } from "./event_hub.ts";

/** An agent this long without a heartbeat counts as quiet (12 of the default 5 s heartbeats missed). */
export const AGENT_QUIET_SECONDS = 60;

export function registerCountMetrics(registry: Registry, hub: EventHub, bmdb: Bmdb): void {
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
  new Gauge({
    name: "drover_agents_quiet",
    help: `Machines whose started agent sent no heartbeat in the last ${AGENT_QUIET_SECONDS} s (read at scrape time).`,
    registers: [registry],
    async collect() {
      try {
        this.set(await bmdb.read((q) => q.countAgentsQuiet({ forSeconds: AGENT_QUIET_SECONDS })));
      } catch {
        this.reset(); // no sample rather than a stale one while the database does not answer
      }
    },
  });
}
