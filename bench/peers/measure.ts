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
import {
  describeProfile,
  mergeProfiles,
  type ProfiledWindow,
  profilePerUnit,
  type ServerProfile,
  type ServerProfiling,
  startServerProfile,
} from "../server_profile.ts";

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
  /** What the peer's backends waited for, and the WAL per job, over the window. */
  server: ServerProfile;
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
  /** The runs' server profiles: wait samples added up, each WAL figure's median. */
  server: ServerProfile;
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
    let start: { clientMs: number; serverMs: number; load: number } | undefined;
    let end: { clientMs: number; serverMs: number; load: number } | undefined;
    let profiling: ServerProfiling | undefined;
    let window: ProfiledWindow | undefined;
    let result: RunnerLine | undefined;
    const sample = () => ({
      clientMs: processCpuMs(child.pid),
      serverMs: readCpuTimes(postmaster).serverMs,
      load: Deno.loadavg()[0],
    });
    for await (const line of jsonLines(child.stdout)) {
      if (line.event === "window-start") {
        start = sample();
        profiling = await startServerProfile(statsDb, database);
      } else if (line.event === "window-end") {
        end = sample();
        window = await profiling?.stop();
      } else if (line.event === "result") result = line;
    }
    await profiling?.stop(); // a child that died in its window: stop sampling
    const status = await child.status;
    clearTimeout(limit);
    if (!status.success || !result || !start || !end || !window) {
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
      server: profilePerUnit(window, jobsInWindow),
    };
  } finally {
    await server.admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
      .catch(() => {});
  }
}

/** One peer at one worker count: `plan.runs` runs and their medians. */
async function measureConfiguration(o: {
  node: string;
  server: PostgresServer;
  statsDb: RawSql;
  peer: PeerName;
  workers: number;
  jobs: number;
  plan: PeerPlan;
  progress: (line: string) => void;
}): Promise<PeerConfigurationResult> {
  const { peer, workers, jobs, plan } = o;
  const runs: PeerRun[] = [];
  for (let i = 0; i < plan.runs; i++) {
    const run = await runOnce(o.node, o.server, o.statsDb, peer, workers, jobs, plan);
    runs.push(run);
    o.progress(
      `${peer}, ${workers} worker(s) run ${i + 1}/${plan.runs}: ${run.jobsPerSecond.toFixed(0)} jobs/s, ` +
        `${run.errors} errors, ${run.retries} retries, CPU/job ${run.cpu.clientUsPerJob.toFixed(0)} µs client + ` +
        `${run.cpu.serverUsPerJob.toFixed(0)} µs server (queue of ${jobs} filled in ${
          run.prepareSeconds.toFixed(1)
        } s); ${describeProfile(run.server, "job")}`,
    );
  }
  return {
    peer,
    workers,
    jobsEnqueued: jobs,
    runs,
    median: {
      jobsPerSecond: median(runs.map((r) => r.jobsPerSecond)),
      clientCpuUsPerJob: median(runs.map((r) => r.cpu.clientUsPerJob)),
      serverCpuUsPerJob: median(runs.map((r) => r.cpu.serverUsPerJob)),
    },
    server: mergeProfiles(runs.map((r) => r.server)),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    retries: runs.reduce((n, r) => n + r.retries, 0),
  };
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
  // The server profiles read the WAL counters and the peers' backends through the maintenance database.
  const statsDb = postgresRawSql(server.url("postgres"));
  try {
    for (const peer of PEERS) {
      for (const workers of plan.workerCounts) {
        configurations.push(
          await measureConfiguration({ node: installation.node, server, statsDb, peer, workers, jobs, plan, progress }),
        );
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
