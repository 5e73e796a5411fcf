/**
 * "Machines you own" (issue 27): an inventory of N machines whose BMCs are
 * simulated with a reply latency uniform in [min, max] ms, adopted into an
 * empty BMDB and swept for their power state by the updater.
 *
 * Three processes, so that each figure is the right one's: the BMC simulator
 * (`redfish/simulator/main.ts`, one port per BMC, writing the inventory and
 * credentials files; bmc_sim_process.ts), Drover's side (owned_drover_main.ts,
 * started with the start task's flags: its RSS is Drover's alone), and the
 * bench. Drover's side adopts the inventory into a fresh database of the
 * bench's PostgreSQL, then runs a cold and a warm `Updater.pass()`; a second
 * child adopts it into an in-memory PGlite.
 *
 * The bound a sweep is held to: a sweep sends N·r requests (r per machine,
 * measured from the simulator's counter), each holding one of the C slots of
 * the pool for its reply's latency, on average (min + max) / 2; so it cannot
 * take less than N·r·mean ÷ C. The target: the warm sweep within 2× that.
 *
 * @module
 */
import { openBmdb } from "../bmdb/mod.ts";
import type { PostgresServer } from "../tests/harness/postgres.ts";
import { type SimStats, startBmcSimProcess } from "./bmc_sim_process.ts";
import { type OwnedDroverReport, runOwnedDrover, type SweepFigures } from "./owned_drover_process.ts";

/** What a run measures: the fleet in a full run, a smaller and faster one with `--quick`. */
export interface OwnedSettings {
  machines: number;
  /** Each BMC reply's delay, uniform in this range. */
  latencyMs: { min: number; max: number };
  /** C: the Redfish pool's `maxInFlight` and the InventoryProvider's `sweepConcurrency`. */
  concurrency: number;
  /** Adoption into PGlite too (creating and migrating it takes 8-9 s: full runs only). */
  pglite: boolean;
}

/**
 * The figures, or (quick, a smoke check within CI's budget) 1,000
 * BMCs at a tenth of the latency, C 100, and no PGlite.
 */
export function ownedSettings(quick: boolean): OwnedSettings {
  return quick
    ? { machines: 1000, latencyMs: { min: 20, max: 200 }, concurrency: 100, pglite: false }
    : { machines: 10_000, latencyMs: { min: 200, max: 2000 }, concurrency: 500, pglite: true };
}

/** One sweep, against its bound. */
export interface SweepResult {
  seconds: number;
  /** Requests the BMCs received during the sweep. */
  requests: number;
  /** r: requests per machine. */
  requestsPerMachine: number;
  /** N·r·mean latency ÷ C, in seconds. */
  boundSeconds: number;
  /** seconds ÷ boundSeconds. */
  ratio: number;
  /** The pool's requests in flight, averaged over the sweep (C at best). */
  meanInFlight: number;
  /** Sessions the BMCs created during the sweep. */
  sessionsCreated: number;
  /** The BMCs' replies during the sweep, by status. */
  byStatus: Record<string, number>;
  /** Machines the provider reported, and whose BMDB row changed. */
  devices: number;
  written: number;
  /** CPU over the sweep, in cores: Drover's process and the simulator's. */
  droverCores: number;
  simulatorCores: number;
}

/** Everything the section measured. */
export interface OwnedMachinesResult {
  /** When it ran (an `--only owned` run merges it into a report of another time). */
  measuredAt: string;
  loadAverage: { start: number[]; end: number[] };
  settings: OwnedSettings;
  /** (min + max) / 2, in ms. */
  meanLatencyMs: number;
  simulatorStartSeconds: number;
  /** `Provisioner.pass()` into an empty BMDB, in seconds, and the machines it adopted (PGlite: full runs only). */
  adoption: {
    postgres: { seconds: number; adopted: number };
    pglite?: { seconds: number; adopted: number; openSeconds: number; peakRssBytes: number };
  };
  cold: SweepResult;
  warm: SweepResult;
  /** Over the simulator's life: the most requests one BMC had in flight at once, and sessions open at once. */
  maxInFlightPerBmc: number;
  maxSessionsPerBmc: number;
  /** The BMDB's machines by provider status after both sweeps. */
  statusesAfter: Record<string, number>;
  /** Drover's process (PostgreSQL): VmHWM over its life. */
  peakRssBytes: number;
  /** Both of Drover's processes, as they reported themselves (memory by phase, logs, the simulator's counters). */
  drover: OwnedDroverReport;
  pgliteDrover?: OwnedDroverReport;
}

const DATABASE = "bench_owned";

function sum(byStatus: Record<string, number>): number {
  return Object.values(byStatus).reduce((a, b) => a + b, 0);
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [status, n] of Object.entries(after)) {
    const d = n - (before[status] ?? 0);
    if (d !== 0) out[status] = d;
  }
  return out;
}

/** The bound N·r·mean ÷ C in seconds, for `requests` in all (N·r). */
export function sweepBoundSeconds(requests: number, meanLatencyMs: number, concurrency: number): number {
  return requests * meanLatencyMs / concurrency / 1000;
}

function sweepResult(
  sweep: SweepFigures,
  use: OwnedDroverReport["phases"][string] | undefined,
  settings: OwnedSettings,
  meanLatencyMs: number,
): SweepResult {
  const before: SimStats = sweep.simBefore;
  const after: SimStats = sweep.simAfter;
  const requests = after.requests - before.requests;
  const seconds = sweep.ms / 1000;
  const boundSeconds = sweepBoundSeconds(requests, meanLatencyMs, settings.concurrency);
  const cores = (ms: number | undefined) => ms === undefined || !use ? NaN : ms / 1000 / use.seconds;
  return {
    seconds,
    requests,
    requestsPerMachine: requests / settings.machines,
    boundSeconds,
    ratio: seconds / boundSeconds,
    meanInFlight: sweep.meanInFlight,
    sessionsCreated: after.sessionsCreated - before.sessionsCreated,
    byStatus: delta(after.byStatus, before.byStatus),
    devices: sweep.pass.devices,
    written: sweep.pass.written,
    droverCores: cores(use?.droverCpuMs),
    simulatorCores: cores(use?.simulatorCpuMs),
  };
}

/**
 * Measures the section on a fresh database of `server` (see the module doc).
 * The simulator is stopped in every case, also on failure.
 */
export async function measureOwnedMachines(
  server: PostgresServer,
  settings: OwnedSettings,
  progress: (line: string) => void,
): Promise<OwnedMachinesResult> {
  const loadAtStart = Deno.loadavg();
  const meanLatencyMs = (settings.latencyMs.min + settings.latencyMs.max) / 2;
  // Generous: 10x the bounds of a cold (3 requests per machine) and a warm sweep, plus start-up.
  const timeoutMs = 120_000 + 10 * 1000 * sweepBoundSeconds(4 * settings.machines, meanLatencyMs, settings.concurrency);
  await server.admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await server.admin(`CREATE DATABASE ${DATABASE}`);
  try {
    const url = server.url(DATABASE);
    const migrating = await openBmdb({ component: "bench", databaseUrl: url, poolSize: 1 });
    await migrating.close();
    let drover: OwnedDroverReport;
    let pgliteDrover: OwnedDroverReport | undefined;
    let simulatorStartSeconds: number;
    {
      await using sim = await startBmcSimProcess({ bmcs: settings.machines, latencyMs: settings.latencyMs });
      simulatorStartSeconds = sim.startSeconds;
      progress(
        `machines you own: ${settings.machines} simulated BMCs (latency ${settings.latencyMs.min}-` +
          `${settings.latencyMs.max} ms) listening after ${sim.startSeconds.toFixed(1)} s; Drover's process ` +
          `adopting and sweeping with ${settings.concurrency} in flight`,
      );
      drover = await runOwnedDrover({
        inventoryPath: sim.inventoryPath,
        credentialsPath: sim.credentialsPath,
        concurrency: settings.concurrency,
        databaseUrl: url,
        simulator: { controlUrl: sim.controlUrl, pid: sim.pid },
        timeoutMs,
      });
      progress(
        `machines you own: adopted into PostgreSQL in ${(drover.adoption.ms / 1000).toFixed(1)} s; sweeps ` +
          `${((drover.sweeps?.cold.ms ?? NaN) / 1000).toFixed(1)} s cold, ` +
          `${((drover.sweeps?.warm.ms ?? NaN) / 1000).toFixed(1)} s warm; peak RSS ` +
          `${(drover.lifetimePeakRssBytes / 2 ** 20).toFixed(0)} MiB`,
      );
      if (settings.pglite) {
        // PGlite's adoption reads only the files, which go when the simulator stops: it runs before that.
        pgliteDrover = await runOwnedDrover({
          inventoryPath: sim.inventoryPath,
          credentialsPath: sim.credentialsPath,
          concurrency: settings.concurrency,
          timeoutMs: 180_000,
        });
        progress(`machines you own: adopted into PGlite in ${(pgliteDrover.adoption.ms / 1000).toFixed(1)} s`);
      }
    }
    const sweeps = drover.sweeps;
    if (!sweeps) throw new Error("Drover's owned-machines process reported no sweeps");
    const last = sweeps.warm.simAfter;
    return {
      measuredAt: new Date().toISOString(),
      loadAverage: { start: loadAtStart, end: Deno.loadavg() },
      settings,
      meanLatencyMs,
      simulatorStartSeconds,
      adoption: {
        postgres: { seconds: drover.adoption.ms / 1000, adopted: drover.adoption.pass.adopted },
        ...(pgliteDrover
          ? {
            pglite: {
              seconds: pgliteDrover.adoption.ms / 1000,
              adopted: pgliteDrover.adoption.pass.adopted,
              openSeconds: pgliteDrover.openMs / 1000,
              peakRssBytes: pgliteDrover.lifetimePeakRssBytes,
            },
          }
          : {}),
      },
      cold: sweepResult(sweeps.cold, drover.phases.cold, settings, meanLatencyMs),
      warm: sweepResult(sweeps.warm, drover.phases.warm, settings, meanLatencyMs),
      maxInFlightPerBmc: last.maxInFlightPerBmc,
      maxSessionsPerBmc: last.maxSessionsPerBmc,
      statusesAfter: sweeps.statuses,
      peakRssBytes: drover.lifetimePeakRssBytes,
      drover,
      ...(pgliteDrover ? { pgliteDrover } : {}),
    };
  } finally {
    await server.admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).catch(() => {});
  }
}

/** Replies that were not a success (status 2xx), summed over both sweeps. */
export function failedReplies(r: OwnedMachinesResult): number {
  const bad = (s: Record<string, number>) =>
    sum(Object.fromEntries(Object.entries(s).filter(([status]) => !/^2\d\d$/.test(status))));
  return bad(r.cold.byStatus) + bad(r.warm.byStatus);
}
