/**
 * A process that runs only the bench's workers, for their memory: the target
 * is "one process running 16 workers stays under 150 MB RSS", and the bench's
 * own process carries everything else it measured (PGlite, peers, reports).
 * Started by bench/workers_process.ts with the start task's `deno` flags.
 *
 * Environment: BENCH_DATABASE_URL (migrated, seeded), BENCH_WORKERS,
 * BENCH_UNIT (a UnitShape), BENCH_SECONDS, BENCH_WARMUP_SECONDS. Runs a
 * warm-up, then the measured stretch while sampling its memory, and prints
 * one JSON line ({@linkcode WorkersProcessOwnReport}).
 *
 * @module
 */
import { openBmdb } from "../bmdb/mod.ts";
import { startRssSampler } from "./rss_sampler.ts";
import type { WorkersProcessOwnReport } from "./workers_process.ts";
import { runWorkload, type UnitShape } from "./workload.ts";

function setting(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const url = setting("BENCH_DATABASE_URL");
const workers = Number(setting("BENCH_WORKERS"));
const unit = setting("BENCH_UNIT") as UnitShape;
const seconds = Number(setting("BENCH_SECONDS"));
const warmupSeconds = Number(Deno.env.get("BENCH_WARMUP_SECONDS") ?? 0);

const bmdb = await openBmdb({ component: "bench", databaseUrl: url, poolSize: workers + 4 });
const sessions = [];
try {
  for (let i = 0; i < workers; i++) sessions.push(await bmdb.startSession());
  if (warmupSeconds > 0) await runWorkload(bmdb, sessions, warmupSeconds, unit);
  const sampler = startRssSampler();
  const result = await runWorkload(bmdb, sessions, seconds, unit);
  const report: WorkersProcessOwnReport = {
    workers,
    unit,
    unitsPerSecond: result.unitsPerSecond,
    peaks: sampler.stop(),
  };
  console.log(JSON.stringify(report));
} finally {
  await Promise.all(sessions.map((s) => s.close()));
  await bmdb.close();
}
