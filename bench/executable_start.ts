/**
 * Issue 29: the one executable (release/build.ts) beside `deno task start`.
 *
 * Builds it into a temporary directory (timed), then starts `drover start`
 * as bench/embedded_start.ts starts main.ts (empty data dir, the embedded
 * fleet without the demo, the time to the login line, the first and every
 * heartbeating machine), from an empty working directory with a cache of its
 * own: the first start unpacks the payload, the later ones reuse it. The
 * last start's process (the launcher execs Deno, so the pid is Deno's) is
 * sampled idle, as the embedded start's is.
 *
 * @module
 */
import { buildExecutable } from "../release/build.ts";
import { spawnWatched } from "../tests/harness/watched_process.ts";
import { childEnvironment, type DroverProcess } from "./drover_process.ts";
import { type EmbeddedResult, type EmbeddedStartRun, measureEmbeddedStart } from "./embedded_start.ts";
import { median } from "./percentile.ts";

export interface ExecutableOptions {
  /** Starts after the first (which unpacks); their median is reported. */
  laterRuns: number;
  idleSeconds: number;
}

export interface ExecutableFigures {
  bytes: number;
  buildSeconds: number;
  /** The payload unpacked into the cache (Deno's code cache of the runs included). */
  unpackedBytes: number;
  /** The first start, unpacking included. */
  firstStart: EmbeddedStartRun;
  laterStarts: EmbeddedStartRun[];
  laterMedian: EmbeddedStartRun;
  /** The last start's process once its fleet was up. */
  idle: EmbeddedResult["idle"];
  lifetimePeakRssBytes: number;
}

/** `drover start` with `env`, from `cwd`, unpacking into `cache`. */
function spawnExecutable(binary: string, cwd: string, cache: string, env: Record<string, string>): DroverProcess {
  const spawnedAt = performance.now();
  const process = spawnWatched({
    command: binary,
    args: ["start"],
    cwd,
    env: childEnvironment({ ...env, DROVER_CACHE_DIR: cache }),
    readyWhen: (stdout) => /Drover is running.*?\. Dashboard: (\S+)/.exec(stdout)?.[1],
    what: "drover start (the executable)",
  });
  return {
    pid: process.child.pid,
    spawnedAt,
    loginUrl: process.ready,
    log: process.log,
    stop: process.stop,
    [Symbol.asyncDispose]: async () => {
      await process.stop();
    },
  };
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    total += entry.isDirectory ? await bytesUnder(path) : entry.isFile ? (await Deno.stat(path)).size : 0;
  }
  return total;
}

/** Builds the executable and measures its starts (see the module doc). */
export async function measureExecutable(
  options: ExecutableOptions,
  progress: (line: string) => void,
): Promise<ExecutableFigures> {
  const dir = await Deno.makeTempDir({ prefix: "drover-bench-executable-" });
  try {
    const buildStarted = performance.now();
    const built = await buildExecutable({ output: `${dir}/drover` });
    const buildSeconds = (performance.now() - buildStarted) / 1000;
    progress(`one executable: built ${(built.bytes / 2 ** 20).toFixed(1)} MiB in ${buildSeconds.toFixed(1)} s`);
    const work = `${dir}/work`;
    await Deno.mkdir(work);
    const result = await measureEmbeddedStart(
      {
        runs: 1 + options.laterRuns,
        idleSeconds: options.idleSeconds,
        spawn: (env) => spawnExecutable(built.path, work, `${dir}/cache`, env),
      },
      (run, i) =>
        progress(
          `one executable, ${i === 0 ? "first start (unpacking)" : `later start ${i}/${options.laterRuns}`}: login ` +
            `line ${(run.loginMs / 1000).toFixed(1)} s, first heartbeating machine ` +
            `${(run.firstHeartbeatMs / 1000).toFixed(1)} s, all ${(run.allHeartbeatingMs / 1000).toFixed(1)} s`,
        ),
    );
    const laterStarts = result.runs.slice(1);
    const of = (pick: (r: EmbeddedStartRun) => number) => median(laterStarts.map(pick));
    return {
      bytes: built.bytes,
      buildSeconds,
      unpackedBytes: await bytesUnder(`${dir}/cache`),
      firstStart: result.runs[0],
      laterStarts,
      laterMedian: {
        loginMs: of((r) => r.loginMs),
        firstHeartbeatMs: of((r) => r.firstHeartbeatMs),
        allHeartbeatingMs: of((r) => r.allHeartbeatingMs),
      },
      idle: result.idle,
      lifetimePeakRssBytes: result.lifetimePeakRssBytes,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
