/**
 * graphile-worker and pg-boss on the bench's PostgreSQL (issue 9): for each
 * peer and worker count, `runs` runs, each on a fresh database, in a Node.js
 * child process (bench/peers/runner.mjs): the queue filled beforehand, a
 * warm-up, then a timed window. Jobs completed per second in the window,
 * errors and retries the peer reports, and CPU per job of the child and of
 * the server, from /proc.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { PostgresServer } from "../../tests/harness/postgres.ts";
import { postmasterPid, processCpuMs, readCpuTimes } from "../cpu_time.ts";
import { median } from "../percentile.ts";
import { ensurePeersInstalled, type PeerName, PEERS } from "./install.ts";
import { postgresRawSql, type RawSql } from "../raw_sql.ts";
import { describeWaits, mergeWaits, startWaitSampler, type WaitProfile, type WaitSampler } from "../wait_events.ts";
import { medianWal, readWal, type WalCounters, type WalPerUnit, walPerUnit } from "../wal_stats.ts";

/**
 * Jobs enqueued per second of warm-up and window: about three times the
 * fastest peer measured on this machine class (2,000-2,400 jobs/s at 16
 * workers), so that the queue never runs dry in the window.
 */
export const QUEUE_FILL_PER_SECOND = 6000;

/** One run of one peer at one worker count. */
export interface PeerRun {
  jobsPerSecond: number;
  jobsInWindow: number;
  windowSeconds: number;
  /** Schema installation and enqueueing, before the workers start (not measured). */
  prepareSeconds: number;
  /** Errors the peer reported (its error events), and jobs run again after a failed attempt. */
  errors: number;
  retries: number;
  /** CPU per job over the window: the Node.js process (peer, driver, runtime) and every PostgreSQL process. */
  cpu: { clientUsPerJob: number; serverUsPerJob: number };
  loadAverage: { start: number; end: number };
  /** What the peer's backends were doing over the window. */
  waits: WaitProfile;
  /** WAL written per job over the window. */
  wal: WalPerUnit;
}

/** A peer at one worker count: its runs and their medians. */
export interface PeerConfigurationResult {
  peer: PeerName;
  workers: number;
  /** Jobs in the queue when the workers start. */
  jobsEnqueued: number;
  runs: PeerRun[];
  median: {
    jobsPerSecond: number;
    clientCpuUsPerJob: number;
    serverCpuUsPerJob: number;
  };
  /** The backends' wait events over all runs. */
  waits: WaitProfile;
  /** WAL per job, median of the runs' (each field on its own). */
  wal: WalPerUnit;
  /** Over every run. */
  errors: number;
  retries: number;
}

/** Every peer measured, with what ran them. */
export interface PeerResults {
  /** Node.js version that ran the peers. */
  node: string;
  /** Each peer's version, read from its installed package.json at run time. */
  versions: Record<PeerName, string>;
  configurations: PeerConfigurationResult[];
}

/** What {@linkcode measurePeers} needs of the bench's plan. */
export interface PeerPlan {
  workerCounts: readonly number[];
  seconds: number;
  runs: number;
  warmupSeconds: number;
}

const RUNNER = fileURLToPath(new URL("./runner.mjs", import.meta.url));
/** Beyond the warm-up and the window, how long a run may take (schema, enqueueing, stopping) before it is killed. */
const RUN_OVERHEAD_LIMIT_SECONDS = 120;

interface RunnerLine {
  event: "window-start" | "window-end" | "result";
  [key: string]: unknown;
}

/** The runner's protocol lines from the child's stdout (anything else a library prints there is skipped). */
async function* jsonLines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<RunnerLine> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line.startsWith('{"event":')) yield JSON.parse(line);
    }
  }
}

async function runOnce(
  node: string,
  server: PostgresServer,
  statsDb: RawSql,
  peer: PeerName,
  workers: number,
  jobs: number,
  plan: PeerPlan,
): Promise<PeerRun> {
  const database = `bench_peer_${peer.replaceAll("-", "_")}`;
  await server.admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await server.admin(`CREATE DATABASE ${database}`);
  const postmaster = postmasterPid(`${server.dir}/data`);
  try {
    const child = new Deno.Command(node, {
      args: [
        RUNNER,
        JSON.stringify({
          peer,
          connectionString: server.url(database),
          concurrency: workers,
          jobs,
          warmupSeconds: plan.warmupSeconds,
          seconds: plan.seconds,
        }),
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    let killed = false;
    const limit = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, (plan.warmupSeconds + plan.seconds + RUN_OVERHEAD_LIMIT_SECONDS) * 1000);
    let start: {
      clientMs: number;
      serverMs: number;
      load: number;
      wal: WalCounters;
    } | undefined;
    let end: {
      clientMs: number;
      serverMs: number;
      load: number;
      wal: WalCounters;
    } | undefined;
    let sampler: WaitSampler | undefined;
    let waits: WaitProfile | undefined;
    let result: RunnerLine | undefined;
    const sample = async () => ({
      clientMs: processCpuMs(child.pid),
      serverMs: readCpuTimes(postmaster).serverMs,
      load: Deno.loadavg()[0],
      wal: await readWal(statsDb),
    });
    for await (const line of jsonLines(child.stdout)) {
      if (line.event === "window-start") {
        start = await sample();
        sampler = startWaitSampler(statsDb, database);
      } else if (line.event === "window-end") {
        waits = await sampler?.stop();
        end = await sample();
      } else if (line.event === "result") result = line;
    }
    await sampler?.stop(); // a child that died in its window
    const status = await child.status;
    clearTimeout(limit);
    if (!status.success || !result || !start || !end || !waits) {
      throw new Error(
        `${peer} with ${workers} workers failed (bench/peers/runner.mjs under ${node}, ` +
          (killed ? `killed after ${RUN_OVERHEAD_LIMIT_SECONDS} s beyond its window` : `exit ${status.code}`) +
          `):\n${(await stderr).slice(-4000)}`,
      );
    }
    if (result.queueRanDry) {
      throw new Error(
        `${peer} with ${workers} workers emptied its queue of ${jobs} jobs before the window ended: ` +
          "raise QUEUE_FILL_PER_SECOND in bench/peers/measure.ts",
      );
    }
    const jobsInWindow = Number(result.jobsInWindow);
    const per = (ms: number) => jobsInWindow > 0 ? (ms * 1000) / jobsInWindow : NaN;
    return {
      jobsPerSecond: Number(result.jobsPerSecond),
      jobsInWindow,
      windowSeconds: Number(result.windowSeconds),
      prepareSeconds: Number(result.prepareSeconds),
      errors: Number(result.errors),
      retries: Number(result.retries),
      cpu: {
        clientUsPerJob: per(end.clientMs - start.clientMs),
        serverUsPerJob: per(end.serverMs - start.serverMs),
      },
      loadAverage: { start: start.load, end: end.load },
      waits,
      wal: walPerUnit(start.wal, end.wal, jobsInWindow),
    };
  } finally {
    await server.admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      .catch(() => {});
  }
}

/**
 * Installs the peers if needed, then measures each at every worker count.
 * @throws {Error} the installation or a run failed (the message says which, with the runner's stderr).
 */
export async function measurePeers(
  server: PostgresServer,
  plan: PeerPlan,
  progress: (line: string) => void,
): Promise<PeerResults> {
  const installation = await ensurePeersInstalled(progress);
  progress(
    `peers: ${PEERS.map((p) => `${p} ${installation.versions[p]}`).join(", ")} under Node.js ` +
      `${installation.nodeVersion} (${installation.node})`,
  );
  const jobs = Math.ceil(
    (plan.warmupSeconds + plan.seconds) * QUEUE_FILL_PER_SECOND,
  );
  const configurations: PeerConfigurationResult[] = [];
  // Wait events and WAL counters, read through a connection to the maintenance database.
  const statsDb = postgresRawSql(server.url("postgres"));
  try {
    for (const peer of PEERS) {
      for (const workers of plan.workerCounts) {
        const runs: PeerRun[] = [];
        for (let i = 0; i < plan.runs; i++) {
          const run = await runOnce(
            installation.node,
            server,
            statsDb,
            peer,
            workers,
            jobs,
            plan,
          );
          runs.push(run);
          progress(
            `${peer}, ${workers} worker(s) run ${i + 1}/${plan.runs}: ${run.jobsPerSecond.toFixed(0)} jobs/s, ` +
              `${run.errors} errors, ${run.retries} retries, CPU/job ${
                run.cpu.clientUsPerJob.toFixed(0)
              } µs client + ` +
              `${run.cpu.serverUsPerJob.toFixed(0)} µs server (queue of ${jobs} filled in ${
                run.prepareSeconds.toFixed(1)
              } s); ${describeWaits(run.waits)}; WAL/job ${run.wal.bytes.toFixed(0)} bytes, ${
                run.wal.syncs.toFixed(2)
              } flushes`,
          );
        }
        configurations.push({
          peer,
          workers,
          jobsEnqueued: jobs,
          runs,
          median: {
            jobsPerSecond: median(runs.map((r) => r.jobsPerSecond)),
            clientCpuUsPerJob: median(runs.map((r) => r.cpu.clientUsPerJob)),
            serverCpuUsPerJob: median(runs.map((r) => r.cpu.serverUsPerJob)),
          },
          waits: mergeWaits(runs.map((r) => r.waits)),
          wal: medianWal(runs.map((r) => r.wal)),
          errors: runs.reduce((n, r) => n + r.errors, 0),
          retries: runs.reduce((n, r) => n + r.retries, 0),
        });
      }
    }
  } finally {
    await statsDb.close();
  }
  return {
    node: installation.nodeVersion,
    versions: installation.versions,
    configurations,
  };
}
