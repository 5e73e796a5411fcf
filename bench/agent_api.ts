/**
 * The agent API's heartbeat throughput (issue 6): `machines` machines with
 * agents recorded (real ed25519 keys) on a fresh database of the bench's
 * PostgreSQL, the server's agent API (`serverApp` + `listen`) in this
 * process, and signed heartbeats from bench/heartbeat_load.ts in a child
 * process, `concurrency` at a time.
 *
 * Per run: heartbeats accepted (204) per second, every other answer as an
 * error, latency p50/p99 at the load generator, the statements that recorded
 * them (`bmdb.batches.agentReports`), and CPU per heartbeat of the server
 * (this process), PostgreSQL and the load generator.
 *
 * @module
 */
import { Registry } from "prom-client";
import { openBmdb } from "../bmdb/mod.ts";
import { exportPublicKey, generateAgentKeys, toBase64 } from "../agent/mod.ts";
import { listen, serverApp } from "../server/mod.ts";
import type { PostgresServer } from "../tests/harness/postgres.ts";
import { quietLogger } from "../tests/harness/quiet_logger.ts";
import { type CpuTimes, postmasterPid, readCpuTimes } from "./cpu_time.ts";
import type { HeartbeatLoadPlan, HeartbeatLoadResult } from "./heartbeat_load.ts";
import { median } from "./percentile.ts";
import { postgresRawSql } from "./raw_sql.ts";
import { lines } from "./text_lines.ts";

/** Machines with an agent in the bench's runs: each heartbeats about once a second at 2,000/s. */
export const AGENT_API_MACHINES = 2000;
/** Heartbeats in flight in the bench's runs (at 64, the server's one core is the limit; see bench/README.md). */
export const AGENT_API_CONCURRENCY = 64;

export interface AgentApiOptions {
  machines: number;
  /** Heartbeats in flight at once (the load generator's loops). */
  concurrency: number;
  /** Length of one measured run. */
  seconds: number;
  /** Unmeasured load before each run (connections open, keys cached). */
  warmupSeconds: number;
  runs: number;
}

/** One run. */
export interface AgentApiRun {
  /** Heartbeats answered 204, per second. */
  acceptedPerSecond: number;
  sent: number;
  accepted: number;
  /** Answers other than 204 (by status, "network" for none): each one is an error. */
  errors: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Statements that recorded heartbeats in the window, and heartbeats per statement. */
  statements: number;
  heartbeatsPerStatement: number;
  /** CPU per accepted heartbeat, microseconds: the server (this process), PostgreSQL, the load generator. */
  cpuUs: { server: number; postgres: number; loadGenerator: number };
  loadAverage: { start: number; end: number };
}

export interface AgentApiResult {
  machines: number;
  concurrency: number;
  seconds: number;
  runs: AgentApiRun[];
  /** Medians over the runs. */
  median: {
    acceptedPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    heartbeatsPerStatement: number;
    cpuUs: { server: number; postgres: number; loadGenerator: number };
  };
  /** Non-204 answers over every run. */
  errors: number;
}

const DATABASE = "bench_agent_api";

/** `machines` machines with an agent each; returns their ids and private keys (base64 PKCS#8). */
async function seedAgents(url: string, machines: number): Promise<HeartbeatLoadPlan["machines"]> {
  const agents = await Promise.all(Array.from({ length: machines }, async () => {
    const keys = await generateAgentKeys();
    return {
      machineId: crypto.randomUUID(),
      privateKey: toBase64(new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey))),
      publicKey: toBase64(await exportPublicKey(keys.publicKey)),
    };
  }));
  const raw = postgresRawSql(url);
  try {
    // UUIDs and base64 only: nothing to quote.
    const ids = agents.map((a) => `'${a.machineId}'`).join(",");
    const keys = agents.map((a) => `'${a.publicKey}'`).join(",");
    await raw.query(
      `INSERT INTO machines (machine_id, machine_created_at) SELECT unnest(ARRAY[${ids}]::uuid[]), now()`,
    );
    await raw.query(
      `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
       SELECT id, now(), decode(key, 'base64') FROM unnest(ARRAY[${ids}]::uuid[], ARRAY[${keys}]::text[]) AS a(id, key)`,
    );
    await raw.query("VACUUM ANALYZE");
  } finally {
    await raw.close();
  }
  return agents.map(({ machineId, privateKey }) => ({ machineId, privateKey }));
}

/** One load generator run: spawns it, and takes readings when its measured window opens and when it reports. */
async function run(
  planPath: string,
  stats: () => { batches: number; requests: number },
  postmaster: number | undefined,
): Promise<AgentApiRun> {
  const loadStart = Deno.loadavg()[0];
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", new URL("./heartbeat_load.ts", import.meta.url).pathname, planPath],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let before: { cpu: CpuTimes; batches: number } | undefined;
  let after: { cpu: CpuTimes; batches: number } | undefined;
  let result: HeartbeatLoadResult | undefined;
  const reading = () => ({ cpu: readCpuTimes(postmaster), batches: stats().batches });
  for await (const line of lines(child.stdout)) {
    const message = JSON.parse(line);
    if (message.measuring) before = reading();
    else {
      after = reading();
      result = message as HeartbeatLoadResult;
    }
  }
  const status = await child.status;
  if (!status.success || !result || !before || !after) {
    throw new Error(`the heartbeat load generator failed (exit ${status.code}) or printed no result`);
  }
  const accepted = result.accepted;
  const per = (ms: number) => accepted > 0 ? (ms * 1000) / accepted : NaN;
  const statements = after.batches - before.batches;
  const errors = Object.fromEntries(Object.entries(result.byStatus).filter(([s]) => s !== "204"));
  return {
    acceptedPerSecond: accepted / result.seconds,
    sent: result.sent,
    accepted,
    errors,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    maxMs: result.maxMs,
    statements,
    heartbeatsPerStatement: statements > 0 ? accepted / statements : NaN,
    cpuUs: {
      server: per(after.cpu.selfMs - before.cpu.selfMs),
      postgres: per(after.cpu.serverMs - before.cpu.serverMs),
      loadGenerator: per(result.cpuMs),
    },
    loadAverage: { start: loadStart, end: Deno.loadavg()[0] },
  };
}

/** Sets up the machines and the server, then `options.runs` runs; `onRun` hears of each. */
export async function measureAgentApi(
  server: PostgresServer,
  options: AgentApiOptions,
  onRun: (run: AgentApiRun, index: number) => void = () => {},
): Promise<AgentApiResult> {
  await server.admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await server.admin(`CREATE DATABASE ${DATABASE}`);
  const url = server.url(DATABASE);
  const planPath = await Deno.makeTempFile({ prefix: "drover-heartbeat-load-", suffix: ".json" });
  try {
    const bmdb = await openBmdb({ component: "bench", databaseUrl: url, logger: quietLogger });
    const apiServer = listen(serverApp({ bmdb, logger: quietLogger, registry: new Registry() }), {
      hostname: "127.0.0.1",
      port: 0,
    });
    try {
      const plan: HeartbeatLoadPlan = {
        url: apiServer.url,
        machines: await seedAgents(url, options.machines),
        concurrency: options.concurrency,
        warmupSeconds: options.warmupSeconds,
        seconds: options.seconds,
      };
      await Deno.writeTextFile(planPath, JSON.stringify(plan));
      const postmaster = postmasterPid(`${server.dir}/data`);
      const runs: AgentApiRun[] = [];
      for (let i = 0; i < options.runs; i++) {
        runs.push(await run(planPath, () => bmdb.batches.agentReports, postmaster));
        onRun(runs[i], i);
      }
      const of = (pick: (r: AgentApiRun) => number) => median(runs.map(pick));
      return {
        machines: options.machines,
        concurrency: options.concurrency,
        seconds: options.seconds,
        runs,
        median: {
          acceptedPerSecond: of((r) => r.acceptedPerSecond),
          p50Ms: of((r) => r.p50Ms),
          p99Ms: of((r) => r.p99Ms),
          heartbeatsPerStatement: of((r) => r.heartbeatsPerStatement),
          cpuUs: {
            server: of((r) => r.cpuUs.server),
            postgres: of((r) => r.cpuUs.postgres),
            loadGenerator: of((r) => r.cpuUs.loadGenerator),
          },
        },
        errors: runs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0),
      };
    } finally {
      await apiServer.shutdown();
      await bmdb.close();
    }
  } finally {
    await Deno.remove(planPath).catch(() => {});
    await server.admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).catch(() => {});
  }
}
