/**
 * The change feed under load: how long a committed change takes to show in
 * the feed's active-work value while workers churn claims and finishes
 * (what the dashboard's live view waits on).
 *
 * @module
 */
import { type Bmdb, type ChangeFeedValues, Process, type Session } from "../bmdb/mod.ts";
import { MemoryValue } from "../event/mod.ts";
import { median, percentile } from "./percentile.ts";
import { byId } from "../tests/harness/fleet.ts";
import { runWorkload } from "./workload.ts";

/** The churn stops when the probes are done; this only bounds a run whose probes hang. */
const CHURN_AT_MOST_SECONDS = 600;

/** Latencies from a commit to the feed's value showing it. */
export interface ChangeFeedLatencyResult {
  workers: number;
  /** Claims and releases observed (two per probe). */
  changes: number;
  /** Units the churning workers did meanwhile. */
  churnUnitsPerSecond: number;
  medianMs: number;
  /** Nearest rank: with fewer than 100 changes, the largest. */
  p99Ms: number;
  maxMs: number;
  mode: "notify" | "poll";
}

type Values = { [K in keyof ChangeFeedValues]: MemoryValue<Parameters<ChangeFeedValues[K]["set"]>[0]> };

/**
 * Opens the feed on `bmdb`, starts `workers` sessions churning units, and
 * meanwhile `probes` times: a probe session claims `machineId` for UnitTest1
 * (a process the churn does not use), and the time from the claim's commit
 * until the active-work value lists it is one sample; its release and
 * disappearance another.
 */
export async function measureChangeFeedLatency(
  bmdb: Bmdb,
  options: { workers: number; probes: number; machineId: string },
): Promise<ChangeFeedLatencyResult> {
  const values: Values = {
    counts: new MemoryValue(),
    sessions: new MemoryValue(),
    activeWork: new MemoryValue(),
    backoffs: new MemoryValue(),
  };
  const feed = await bmdb.openChangeFeed({ values });
  const sessions: Session[] = [];
  const probe = await bmdb.startSession();
  const watcher = values.activeWork.watch();
  try {
    for (let i = 0; i < options.workers; i++) sessions.push(await bmdb.startSession());
    const stop = new AbortController();
    const samples: number[] = [];
    const listed = (list: { rows: { machineId: string; process: string }[] }) =>
      list.rows.some((w) => w.machineId === options.machineId && w.process === Process.UnitTest1);
    const probing = (async () => {
      try {
        for (let i = 0; i < options.probes; i++) {
          const shown = watcher.get({ predicate: listed });
          const work = await probe.work(Process.UnitTest1, byId(options.machineId));
          const claimed = performance.now();
          await shown;
          samples.push(Math.max(0, performance.now() - claimed));
          const gone = watcher.get({ predicate: (list) => !listed(list) });
          await work.cancel();
          const released = performance.now();
          await gone;
          samples.push(Math.max(0, performance.now() - released));
        }
      } finally {
        stop.abort();
      }
    })();
    // Churn until the probes are done.
    let churn;
    try {
      churn = await runWorkload(bmdb, sessions, CHURN_AT_MOST_SECONDS, "claimThenFinish", stop.signal);
    } catch (error) {
      // The probes wait on the watcher: closing it ends them; the churn's error is the one to report.
      watcher.close();
      await probing.catch(() => {});
      throw error;
    }
    await probing;
    return {
      workers: options.workers,
      changes: samples.length,
      churnUnitsPerSecond: churn.unitsPerSecond,
      medianMs: median(samples),
      p99Ms: percentile(samples, 99),
      maxMs: Math.max(...samples),
      mode: feed.mode,
    };
  } finally {
    watcher.close();
    await Promise.all([...sessions, probe].map((s) => s.close()));
    await feed.close();
  }
}
