/**
 * Runs Drover's side of "Machines you own" (bench/owned_drover_main.ts) in a
 * child process with the start task's `deno` flags, and adds what only
 * another process can read of it from /proc: its CPU time and the BMC
 * simulator's over each phase the child marks, and its peak RSS (VmHWM)
 * after each phase and over its life.
 *
 * @module
 */
import type { ProvisionerPass, UpdaterPass } from "../loops/mod.ts";
import { spawnWatched } from "../tests/harness/watched_process.ts";
import { within } from "../tests/harness/wait.ts";
import type { SimStats } from "./bmc_sim_process.ts";
import { processCpuMs } from "./cpu_time.ts";
import { childEnvironment, startTaskDenoArgs } from "./drover_process.ts";
import { processPeakRssBytes } from "./process_stats.ts";
import type { MemoryPeaks } from "./rss_sampler.ts";

const ENTRY = decodeURIComponent(new URL("./owned_drover_main.ts", import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** `Deno.memoryUsage()` at one moment. */
export interface MemoryNow {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
}

/** A phase's memory, as the child saw it: sampled peaks (every 50 ms) and the figures at its end. */
export interface PhaseMemory {
  peaks: MemoryPeaks;
  end: MemoryNow;
}

/** One updater sweep. */
export interface SweepFigures {
  /** `Updater.pass()`, from its call until it resolved. */
  ms: number;
  pass: UpdaterPass;
  /** The simulator's counters right before and right after. */
  simBefore: SimStats;
  simAfter: SimStats;
  /** The pool's HTTP requests in flight, sampled every 50 ms over the sweep, averaged. */
  meanInFlight: number;
  memory: PhaseMemory;
}

/** What the child reports of itself. */
export interface OwnedDroverOwnReport {
  database: "postgres" | "pglite";
  /** Machines in the inventory. */
  machines: number;
  /** The pool's `maxInFlight` and the provider's `sweepConcurrency`. */
  concurrency: number;
  /** `loadInventory` of the two files. */
  loadInventoryMs: number;
  /** Opening the BMDB (PGlite: creating and migrating it). */
  openMs: number;
  /** Memory once the inventory was loaded and the BMDB open, before any pass. */
  opened: MemoryNow;
  /** `Provisioner.pass()` into the empty BMDB, and the BMDB's machines by provider status after it. */
  adoption: { ms: number; pass: ProvisionerPass; statuses: Record<string, number>; memory: PhaseMemory };
  /** Present when the BMCs were there to sweep. Statuses: the BMDB's after both sweeps. */
  sweeps?: { cold: SweepFigures; warm: SweepFigures; statuses: Record<string, number>; sessionsOpen: number };
  /** Warnings and errors Drover's parts logged. */
  log: { warnings: number; errors: number; first: string[] };
}

/** What another process read of a phase of the child. */
export interface PhaseUse {
  seconds: number;
  /** CPU time over the phase, in ms: Drover's process, and the BMC simulator's when it ran. */
  droverCpuMs: number;
  simulatorCpuMs: number;
  /** The child's VmHWM at the phase's end. */
  peakRssBytes: number;
}

/** The child's report with what the parent read. */
export interface OwnedDroverReport extends OwnedDroverOwnReport {
  /** By phase: "adoption", "cold", "warm". */
  phases: Record<string, PhaseUse>;
  /** The child's VmHWM read once it reported: its largest RSS over its life. */
  lifetimePeakRssBytes: number;
}

/** Where the child's inputs are. */
export interface OwnedDroverOptions {
  inventoryPath: string;
  credentialsPath: string;
  concurrency: number;
  /** PostgreSQL (migrated, empty); absent: PGlite in memory. */
  databaseUrl?: string;
  /** The BMC simulator: its control endpoint (sweeps run only with it) and pid (for its CPU). */
  simulator?: { controlUrl: string; pid: number };
  /** The whole run, start to report. */
  timeoutMs: number;
}

interface Reading {
  at: number;
  droverCpuMs: number;
  simulatorCpuMs: number;
  peakRssBytes: number;
}

/** Runs the child and returns its report with the parent's readings. */
export async function runOwnedDrover(o: OwnedDroverOptions): Promise<OwnedDroverReport> {
  const readings = new Map<string, Reading>();
  let pid = NaN;
  const read = (): Reading => ({
    at: performance.now(),
    droverCpuMs: processCpuMs(pid),
    simulatorCpuMs: o.simulator ? processCpuMs(o.simulator.pid) : NaN,
    peakRssBytes: processPeakRssBytes(pid),
  });
  let seen = 0;
  /** Reads the lines printed since the last call: marks are noted at once, the report is returned. */
  const lines = (stdout: string): string | undefined => {
    const end = stdout.lastIndexOf("\n");
    if (end < seen) return undefined;
    const fresh = stdout.slice(seen, end).split("\n").filter((line) => line.startsWith("{"));
    seen = end + 1;
    for (const line of fresh) {
      const parsed = JSON.parse(line) as { mark?: string; report?: unknown };
      if (parsed.mark) readings.set(parsed.mark, read());
      if (parsed.report) return line;
    }
    return undefined;
  };
  let reportLine: string | undefined;
  const child = spawnWatched({
    args: [...startTaskDenoArgs(), ENTRY],
    cwd: REPO,
    env: childEnvironment({
      BENCH_INVENTORY: o.inventoryPath,
      BENCH_CREDENTIALS: o.credentialsPath,
      BENCH_CONCURRENCY: String(o.concurrency),
      ...(o.databaseUrl ? { BENCH_DATABASE_URL: o.databaseUrl } : {}),
      ...(o.simulator ? { BENCH_SIM_CONTROL_URL: o.simulator.controlUrl } : {}),
    }),
    readyWhen: (stdout) => reportLine ??= lines(stdout),
    what: "Drover's owned-machines process",
  });
  pid = child.child.pid;
  try {
    const line = await within(child.ready, o.timeoutMs, "Drover's owned-machines process reporting");
    // VmHWM only grows, and the child is still closing its pool: this is its lifetime peak.
    const lifetimePeakRssBytes = processPeakRssBytes(pid);
    const status = await within(child.child.status, 60_000, "Drover's owned-machines process exiting");
    if (!status.success) {
      throw new Error(`Drover's owned-machines process exited ${status.code}:\n${child.log().slice(-4000)}`);
    }
    const own = (JSON.parse(line) as { report: OwnedDroverOwnReport }).report;
    const phases: Record<string, PhaseUse> = {};
    for (const name of ["adoption", "cold", "warm"]) {
      const start = readings.get(`${name}:start`);
      const end = readings.get(`${name}:end`);
      if (!start || !end) continue;
      phases[name] = {
        seconds: (end.at - start.at) / 1000,
        droverCpuMs: end.droverCpuMs - start.droverCpuMs,
        simulatorCpuMs: end.simulatorCpuMs - start.simulatorCpuMs,
        peakRssBytes: end.peakRssBytes,
      };
    }
    return { ...own, phases, lifetimePeakRssBytes };
  } catch (error) {
    // An early exit's error has the log already; a timeout's has not.
    if (error instanceof Error && error.message.includes("its log ends")) throw error;
    throw new Error(`${error instanceof Error ? error.message : error}; its log ends:\n${child.log().slice(-4000)}`, {
      cause: error,
    });
  } finally {
    await child.stop();
  }
}
