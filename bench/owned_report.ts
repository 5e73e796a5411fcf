/**
 * The terminal report's section "Machines you own" (issue 27): the two
 * updater sweeps against their bound, what the BMCs saw, adoption, and
 * Drover's memory by phase.
 *
 * @module
 */
import type { MemoryNow } from "./owned_drover_process.ts";
import { failedReplies, type OwnedMachinesResult, type SweepResult } from "./owned_machines.ts";
import {
  OWNED_ADOPTION_BELOW_SECONDS,
  OWNED_IN_FLIGHT_PER_BMC_AT_MOST,
  OWNED_RSS_BELOW_BYTES,
  OWNED_SESSIONS_PER_BMC_AT_MOST,
  OWNED_SWEEP_RATIO_AT_MOST,
} from "./owned_targets.ts";
import { table } from "./text_table.ts";

function mark(met: boolean): string {
  return met ? "met" : "MISSED";
}

function fixed(n: number | undefined, digits: number): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

function mib(bytes: number | undefined): string {
  return bytes === undefined || Number.isNaN(bytes) ? "-" : (bytes / 2 ** 20).toFixed(0);
}

function statuses(byStatus: Record<string, number>): string {
  const entries = Object.entries(byStatus);
  return entries.length === 0 ? "none" : entries.map(([status, n]) => `${status} ${count(n)}`).join(", ");
}

function memory(m: MemoryNow | undefined): string {
  return m ? `${mib(m.rssBytes)} / ${mib(m.heapUsedBytes)}` : "-";
}

/** The report's note on the section (also what an `--only owned` run replaces). */
export const OWNED_NOTE = "Machines you own: the BMC simulator (one port per BMC) and Drover's side each run in a " +
  "process of their own, Drover's with the start task's flags, so its RSS (VmHWM) is Drover's alone. A sweep's " +
  "bound is N·r·mean latency ÷ C: r requests per machine (the simulator's count), each holding one of the pool's C " +
  "slots for its reply's delay. The cold sweep reads the service root, makes a session and reads the system; the " +
  "warm one reads the system only (the target is on it). The simulator's counters cover its whole life. " +
  "Quick runs: 1,000 BMCs at 20-200 ms, C 100, no PGlite; full runs: the issue's 10,000 at 200-2,000 ms, C 500.";

/** The section's lines (a blank line last). */
export function formatOwnedSection(r: OwnedMachinesResult): string[] {
  const { machines, latencyMs, concurrency } = r.settings;
  const row = (name: string, s: SweepResult) => [
    name,
    fixed(s.seconds, 1),
    count(s.requests),
    fixed(s.requestsPerMachine, 2),
    fixed(s.boundSeconds, 1),
    fixed(s.ratio, 2),
    fixed(s.meanInFlight, 0),
    count(s.sessionsCreated),
    statuses(s.byStatus),
    count(s.written),
    fixed(s.droverCores, 2),
    fixed(s.simulatorCores, 2),
  ];
  const d = r.drover;
  const pg = r.adoption.postgres;
  const lite = r.adoption.pglite;
  const adoption = (name: string, a: { seconds: number; adopted: number }) =>
    `${name} ${fixed(a.seconds, 1)} s (${count(a.adopted)} adopted; < ${OWNED_ADOPTION_BELOW_SECONDS} s: ${
      mark(a.seconds < OWNED_ADOPTION_BELOW_SECONDS && a.adopted === machines)
    })`;
  const w = r.warm;
  return [
    `Machines you own (issue 27): ${count(machines)} inventory machines, a simulated BMC each (a process of its own, ` +
    `started in ${fixed(r.simulatorStartSeconds, 1)} s; every reply delayed uniformly ${count(latencyMs.min)}-` +
    `${count(latencyMs.max)} ms, mean ${
      count(r.meanLatencyMs)
    }); Drover in a process of its own with the start task's ` +
    `flags; C = ${concurrency} (RedfishPool maxInFlight = InventoryProvider sweepConcurrency):`,
    table(
      [
        "updater sweep",
        "s",
        "BMC requests",
        "per machine",
        "bound s",
        "ratio",
        "mean in flight",
        "sessions made",
        "BMC replies",
        "rows written",
        "CPU cores: Drover",
        "simulator",
      ],
      [
        row("cold (root, session, system)", r.cold),
        row("warm (system)", r.warm),
      ],
      (i) => i >= 1 && i !== 8,
    ),
    `Bound = N × r × mean latency ÷ C (each request holds one of the C slots for its reply's delay): warm ` +
    `${count(machines)} × ${fixed(w.requestsPerMachine, 2)} × ${
      fixed(r.meanLatencyMs / 1000, 3)
    } s ÷ ${concurrency} = ` +
    `${fixed(w.boundSeconds, 1)} s; measured ${fixed(w.seconds, 1)} s, ratio ${fixed(w.ratio, 2)} (<= ` +
    `${OWNED_SWEEP_RATIO_AT_MOST.toFixed(1)}: ${mark(w.ratio <= OWNED_SWEEP_RATIO_AT_MOST)}); cold ratio ` +
    `${fixed(r.cold.ratio, 2)} (informational)`,
    `Per BMC over the simulator's life: at most ${r.maxInFlightPerBmc} request(s) in flight (<= ${OWNED_IN_FLIGHT_PER_BMC_AT_MOST}: ` +
    `${mark(r.maxInFlightPerBmc <= OWNED_IN_FLIGHT_PER_BMC_AT_MOST)}), at most ${r.maxSessionsPerBmc} session(s) ` +
    `open (<= ${OWNED_SESSIONS_PER_BMC_AT_MOST}: ${mark(r.maxSessionsPerBmc <= OWNED_SESSIONS_PER_BMC_AT_MOST)}); ` +
    `replies not 2xx: ${failedReplies(r)}; the BMDB after the sweeps: ${statuses(r.statusesAfter)}`,
    `Adoption (Provisioner.pass() into an empty BMDB): ${adoption("PostgreSQL", pg)}` +
    (lite
      ? `, ${adoption("PGlite", lite)}; PGlite created and migrated in ${fixed(lite.openSeconds, 1)} s, its ` +
        `process peaked at ${mib(lite.peakRssBytes)} MiB`
      : "; PGlite: full runs only"),
    `Drover's process: peak RSS ${mib(r.peakRssBytes)} MiB (VmHWM; < ${OWNED_RSS_BELOW_BYTES / 2 ** 20}: ` +
    `${mark(r.peakRssBytes < OWNED_RSS_BELOW_BYTES)}); RSS / V8 heap used MiB at the end of each phase: inventory ` +
    `loaded (${fixed(d.loadInventoryMs / 1000, 1)} s) and BMDB open ${memory(d.opened)}, adopted ` +
    `${memory(d.adoption.memory.end)}, cold ${memory(d.sweeps?.cold.memory.end)}, warm ` +
    `${memory(d.sweeps?.warm.memory.end)}; ${d.log.warnings} warnings, ${d.log.errors} errors logged` +
    (d.log.first.length > 0 ? ` (first: ${d.log.first[0]})` : ""),
    "",
  ];
}
