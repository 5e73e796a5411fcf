/**
 * The memory of a process running only the bench's workers
 * (bench/workers_process_main.ts), measured on a fleet the bench seeded, with
 * the recycler and the idle sessions of a configuration's runs.
 *
 * @module
 */
import { within } from "../tests/harness/wait.ts";
import { childEnvironment, startTaskDenoArgs } from "./drover_process.ts";
import { resetFleet, setIdleSessions } from "./fleet.ts";
import type { BenchConfigurationOptions, WorkersProcessReport } from "./configuration.ts";
import { processPeakRssBytes } from "./process_stats.ts";
import { startRecycler } from "./recycler.ts";
import { spawnWatched } from "../tests/harness/watched_process.ts";

const ENTRY = decodeURIComponent(new URL("./workers_process_main.ts", import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname);
/** Start-up, sessions and shutdown, beyond the warm-up and the run. */
const OVERHEAD_LIMIT_MS = 60_000;

/** What the workers' process reports of itself (the bench adds its VmHWM). */
export type WorkersProcessOwnReport = Omit<WorkersProcessReport, "lifetimePeakRssBytes">;

/** A configuration's settings that a run needs, and the database the process connects to. */
export type WorkersProcessOptions =
  & Pick<
    BenchConfigurationOptions,
    "raw" | "recyclerDb" | "workers" | "unit" | "liveSessions" | "seconds" | "warmupSeconds"
  >
  & { databaseUrl: string };

/** Runs the workers in a process of their own and returns what it reports. */
export async function measureWorkersProcess(o: WorkersProcessOptions): Promise<WorkersProcessReport> {
  await setIdleSessions(o.raw, o.liveSessions - o.workers);
  await resetFleet(o.raw);
  const recycler = startRecycler(o.recyclerDb);
  const child = spawnWatched({
    args: [...startTaskDenoArgs(), ENTRY],
    cwd: REPO,
    env: childEnvironment({
      BENCH_DATABASE_URL: o.databaseUrl,
      BENCH_WORKERS: String(o.workers),
      BENCH_UNIT: o.unit,
      BENCH_SECONDS: String(o.seconds),
      BENCH_WARMUP_SECONDS: String(o.warmupSeconds),
    }),
    // One complete JSON line once the run is over.
    readyWhen: (stdout) => stdout.split("\n").slice(0, -1).find((line) => line.startsWith("{")),
    what: "the workers' process",
  });
  // VmHWM only grows: the last reading before it exits is its lifetime peak
  // (its own /proc entry needs --allow-all, which the start task does not give).
  let lifetimePeakRssBytes = NaN;
  const readPeak = () => {
    // NaN once it has exited (a zombie's status has no VmHWM): keep the last reading then.
    const bytes = processPeakRssBytes(child.child.pid);
    if (!Number.isNaN(bytes)) lifetimePeakRssBytes = bytes;
  };
  const peakTimer = setInterval(readPeak, 100);
  try {
    const line = await within(
      child.ready,
      (o.warmupSeconds + o.seconds) * 1000 + OVERHEAD_LIMIT_MS,
      "the workers' process reporting",
    );
    readPeak();
    // It closes its sessions and exits by itself once it has reported.
    const status = await within(child.child.status, OVERHEAD_LIMIT_MS, "the workers' process exiting");
    if (!status.success) throw new Error(`the workers' process exited ${status.code}:\n${child.log().slice(-4000)}`);
    return { ...(JSON.parse(line) as WorkersProcessOwnReport), lifetimePeakRssBytes };
  } finally {
    clearInterval(peakTimer);
    await child.stop();
    await recycler.stop().catch(() => {});
    await setIdleSessions(o.raw, 0);
  }
}
