/**
 * One measured configuration (a database, a fleet, a number of workers): its
 * sessions, a warm-up, then the runs, each from a reset fleet with the
 * recycler going, and their medians.
 *
 * @module
 */
import type { Bmdb, Session } from "../bmdb/mod.ts";
import { resetFleet, setIdleSessions } from "./fleet.ts";
import { median } from "./percentile.ts";
import { cpuPerUnit, readCpuTimes } from "./cpu_time.ts";
import type { RawSql } from "./raw_sql.ts";
import { type RecyclerStats, startRecycler } from "./recycler.ts";
import { mergeProfiles, profilePerUnit, type ServerProfile, startServerProfile } from "./server_profile.ts";
import { type MemoryPeaks, startRssSampler } from "./rss_sampler.ts";
import { runWorkload, type UnitShape, type WorkloadResult } from "./workload.ts";

/** One run: the workload's figures, the recycler's, the machine's load, and peak memory when sampled. */
export interface RunResult extends WorkloadResult {
  recycler: RecyclerStats;
  /**
   * CPU per unit: this process (workers, the BMDB, postgres.js, and the recycler's client side; with PGlite,
   * the database too) and the PostgreSQL server (backends, WAL writer, autovacuum; NaN for PGlite).
   */
  cpu: { clientUsPerUnit: number; serverUsPerUnit: number };
  /** 1-minute load average at the start and at the end (other processes on the machine skew a run). */
  loadAverage: { start: number; end: number };
  peakRssBytes?: number;
  memoryPeaks?: MemoryPeaks;
  /** What the database's backends waited for, and the WAL per unit, over the run, when profiled (PostgreSQL). */
  server?: ServerProfile;
}

/** The same workers in a process of their own (bench/workers_process.ts), for their memory. */
export interface WorkersProcessReport {
  workers: number;
  unit: UnitShape;
  unitsPerSecond: number;
  /** Sampled every 50 ms over the measured stretch. */
  peaks: MemoryPeaks;
  /** Its largest RSS over its life (VmHWM, read from /proc until it reported), start-up included. */
  lifetimePeakRssBytes: number;
}

/** A configuration's runs and the medians that stand for it. */
export interface ConfigurationResult {
  database: "postgres" | "pglite";
  machines: number;
  workers: number;
  unit: UnitShape;
  runs: RunResult[];
  median: {
    unitsPerSecond: number;
    retriesPer100Units: number;
    claimP50Ms: number;
    claimP99Ms: number;
    finishP50Ms: number;
    clientCpuUsPerUnit: number;
    serverCpuUsPerUnit: number;
    conflicts: number;
    nothingToDo: number;
  };
  /**
   * Largest RSS: of the process running only this configuration's workers
   * (`workersProcess`) where measured, else over all runs, when sampled.
   */
  peakRssBytes?: number;
  /** The same workers in a process of their own, for their memory (16 workers on PostgreSQL). */
  workersProcess?: WorkersProcessReport;
  /** The runs' server profiles: wait samples added up, each WAL figure's median; when profiled. */
  server?: ServerProfile;
}

/** Options for {@linkcode benchConfiguration}. */
export interface BenchConfigurationOptions {
  database: "postgres" | "pglite";
  machines: number;
  bmdb: Bmdb;
  /** For resets and idle sessions. */
  raw: RawSql;
  /** The recycler's connection (READ COMMITTED, not one of the Bmdb's). */
  recyclerDb: RawSql;
  workers: number;
  unit: UnitShape;
  /** Live sessions in total; the ones beyond the workers' are idle rows. */
  liveSessions: number;
  seconds: number;
  runs: number;
  warmupSeconds: number;
  sampleRss: boolean;
  /** The PostgreSQL server's postmaster, to measure its CPU per unit. */
  postmaster?: number;
  /** Profiles the server over each run (`server_profile.ts`): `database`'s backends, through a connection of its own. */
  serverProfile?: { db: RawSql; database: string };
  /** Called after each run, for progress lines. */
  onRun?: (run: RunResult, index: number) => void;
}

async function recycledRun(
  o: BenchConfigurationOptions,
  sessions: Session[],
  seconds: number,
): Promise<RunResult> {
  await resetFleet(o.raw);
  const recycler = startRecycler(o.recyclerDb);
  const rss = o.sampleRss ? startRssSampler() : undefined;
  const loadStart = Deno.loadavg()[0];
  const cpuBefore = readCpuTimes(o.postmaster);
  const profiling = o.serverProfile && await startServerProfile(o.serverProfile.db, o.serverProfile.database);
  let result: WorkloadResult;
  try {
    result = await runWorkload(o.bmdb, sessions, seconds, o.unit);
  } catch (error) {
    rss?.stop();
    await profiling?.stop().catch(() => {});
    await recycler.stop().catch(() => {}); // the workload's error is the one to report
    throw error;
  }
  const cpu = cpuPerUnit(cpuBefore, readCpuTimes(o.postmaster), result.units);
  const window = await profiling?.stop();
  const memoryPeaks = rss?.stop();
  const recyclerStats = await recycler.stop();
  return {
    ...result,
    recycler: recyclerStats,
    cpu: { clientUsPerUnit: cpu.selfUs, serverUsPerUnit: cpu.serverUs },
    loadAverage: { start: loadStart, end: Deno.loadavg()[0] },
    ...(memoryPeaks ? { peakRssBytes: memoryPeaks.rssBytes, memoryPeaks } : {}),
    ...(window ? { server: profilePerUnit(window, result.units) } : {}),
  };
}

/** Runs a configuration: warm-up, then `runs` measured runs of `seconds`. */
export async function benchConfiguration(o: BenchConfigurationOptions): Promise<ConfigurationResult> {
  await setIdleSessions(o.raw, o.liveSessions - o.workers);
  const sessions: Session[] = [];
  try {
    for (let i = 0; i < o.workers; i++) sessions.push(await o.bmdb.startSession());
    if (o.warmupSeconds > 0) {
      await recycledRun({ ...o, sampleRss: false, serverProfile: undefined }, sessions, o.warmupSeconds);
    }
    const runs: RunResult[] = [];
    for (let i = 0; i < o.runs; i++) {
      const run = await recycledRun(o, sessions, o.seconds);
      runs.push(run);
      o.onRun?.(run, i);
    }
    const m = (pick: (r: RunResult) => number) => median(runs.map(pick));
    const rss = runs.map((r) => r.peakRssBytes).filter((b): b is number => b !== undefined);
    const profiles = runs.map((r) => r.server).filter((p): p is ServerProfile => p !== undefined);
    return {
      database: o.database,
      machines: o.machines,
      workers: o.workers,
      unit: o.unit,
      runs,
      median: {
        unitsPerSecond: m((r) => r.unitsPerSecond),
        retriesPer100Units: m((r) => r.retriesPer100Units),
        claimP50Ms: m((r) => r.claimP50Ms),
        claimP99Ms: m((r) => r.claimP99Ms),
        finishP50Ms: m((r) => r.finishP50Ms),
        clientCpuUsPerUnit: m((r) => r.cpu.clientUsPerUnit),
        serverCpuUsPerUnit: m((r) => r.cpu.serverUsPerUnit),
        conflicts: m((r) => r.conflicts),
        nothingToDo: m((r) => r.nothingToDo),
      },
      ...(rss.length > 0 ? { peakRssBytes: Math.max(...rss) } : {}),
      ...(profiles.length > 0 ? { server: mergeProfiles(profiles) } : {}),
    };
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
    await setIdleSessions(o.raw, 0);
  }
}
