/**
 * Issue 8: an idle replica in production mode. main.ts (as `deno task start`
 * runs it, bench/drover_process.ts) on a fresh database of the bench's
 * PostgreSQL, with a standalone `deno task sim` as its provider and the
 * simulator running the agents (DROVER_SIM_AGENTS), as
 * tests/service/production_test.ts runs it.
 *
 * 1. Bring-up: a replica with short intervals (as the production test's)
 *    until every reservation is a machine whose agent heartbeats.
 * 2. It stops (SIGTERM), and a replica with the production defaults starts
 *    on the same database, simulator and port (the agents keep sending their
 *    heartbeats there). Once it serves, the agents' heartbeats reach it again
 *    and a settling pause has passed, its CPU and RSS are sampled over
 *    `idleSeconds`, with the database's transactions over the same window.
 *
 * Nothing changes in the fleet during the window; the agents' heartbeats
 * (every 5 s each, the default) are the replica's only outside work.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../tests/harness/free_port.ts";
import type { PostgresServer } from "../tests/harness/postgres.ts";
import { startSimProcess } from "../tests/harness/sim_process.ts";
import { waitFor, within } from "../tests/harness/wait.ts";
import { type DroverProcess, heartbeatingMachines, spawnDrover } from "./drover_process.ts";
import { type IdleSample, processPeakRssBytes, sampleIdle } from "./process_stats.ts";
import { postgresRawSql } from "./raw_sql.ts";

const DATABASE = "bench_service_production";
/**
 * After the idle replica serves and the heartbeats reach it: its start-up
 * passes (provisioner, updater, reservations) finish. Shorter with `--quick`.
 */
const SETTLE_MS = 5000;
const QUICK_SETTLE_MS = 2000;
/** PostgreSQL publishes a backend's statistics at most every 500 ms (and at its end). */
const STATS_DELAY_MS = 1000;

export interface ProductionIdleOptions {
  /** Reservations at the simulator, and the replica's DROVER_MAX_DEVICES. */
  machines: number;
  idleSeconds: number;
  /** A smoke check (`--quick`): a shorter settle before the idle window. */
  quick?: boolean;
}

export interface ProductionIdleResult {
  machines: number;
  /** Bring-up (short intervals) from spawn to every machine heartbeating. */
  bringUpMs: number;
  /** The idle replica (production defaults) from spawn to serving (its login line). */
  restartLoginMs: number;
  idle: IdleSample;
  /** The replica's largest RSS over its life (VmHWM), start-up included. */
  lifetimePeakRssBytes: number;
  /** Commits and rollbacks in the replica's database per second around the idle window (pg_stat_database). */
  transactionsPerSecond: number;
  /** Agent API requests (the agents' heartbeats) the replica answered per second over the window. */
  agentRequestsPerSecond: number;
}

/** Short intervals for the bring-up only, as tests/service/production_test.ts uses. */
const BRING_UP_SETTINGS = {
  DROVER_DEVICE_CREATION_RATE: "10ms,10",
  DROVER_DB_RATE: "20ms,8",
  DROVER_PROVISIONER_INTERVAL: "500ms",
  DROVER_UPDATER_INTERVAL: "500ms",
  EQUINIX_API_RATE: "0ms",
};

async function transactions(url: string): Promise<number> {
  const raw = postgresRawSql(url);
  try {
    const [row] = await raw.query(
      "SELECT (xact_commit + xact_rollback)::bigint AS n FROM pg_stat_database WHERE datname = current_database()",
    );
    return Number(row.n);
  } finally {
    await raw.close();
  }
}

/** The replica's agent API requests so far (the sum of drover_agent_requests_total on /metrics). */
async function agentRequests(base: string, token: string): Promise<number> {
  const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  if (!response.ok) throw new Error(`GET /metrics: ${response.status} ${text.slice(0, 200)}`);
  return text.split("\n").filter((line) => line.startsWith("drover_agent_requests_total"))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

async function failWithLog(process: DroverProcess, what: string, error: unknown): Promise<never> {
  await process.stop();
  throw new Error(
    `${what}: ${error instanceof Error ? error.message : error}\nits log:\n${process.log().slice(-4000)}`,
    {
      cause: error,
    },
  );
}

/** Brings a fleet up, restarts the replica with the production defaults, and samples it idle. */
export async function measureProductionIdle(
  server: PostgresServer,
  options: ProductionIdleOptions,
): Promise<ProductionIdleResult> {
  await server.admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await server.admin(`CREATE DATABASE ${DATABASE}`);
  const url = server.url(DATABASE);
  const dir = await Deno.makeTempDir({ prefix: "drover-bench-production-" });
  try {
    await using sim = await startSimProcess(["--reservations", String(options.machines)]);
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const adminToken = `admin-${crypto.randomUUID()}`;
    const env = {
      ...sim.settings,
      DATABASE_URL: url,
      DROVER_SIM_AGENTS: "true",
      DROVER_ADMIN_TOKEN: adminToken,
      DROVER_DATA_DIR: `${dir}/data`,
      DROVER_LISTEN: `127.0.0.1:${port}`,
      DROVER_MAX_DEVICES: String(options.machines),
    };
    const allHeartbeating = async () =>
      ((await heartbeatingMachines(base, adminToken))?.heartbeating ?? 0) >= options.machines;

    const bringUp = spawnDrover({ ...env, ...BRING_UP_SETTINGS });
    let bringUpMs: number;
    try {
      await waitFor(allHeartbeating, {
        timeoutMs: 120_000,
        intervalMs: 250,
        what: `${options.machines} machines heartbeating`,
      });
      bringUpMs = performance.now() - bringUp.spawnedAt;
    } catch (error) {
      return await failWithLog(bringUp, "production bring-up failed", error);
    }
    const stopped = await bringUp.stop();
    if (!stopped.success) {
      throw new Error(`the bring-up replica exited ${stopped.code}:\n${bringUp.log().slice(-4000)}`);
    }

    const replica = spawnDrover(env);
    try {
      await within(replica.loginUrl, 60_000, "the idle replica's login line");
      const restartLoginMs = performance.now() - replica.spawnedAt;
      // The agents' heartbeats failed while no replica listened: wait until a new one is recorded.
      const restartedAt = new Date().toISOString();
      await waitFor(async () => {
        const seen = await heartbeatingMachines(base, adminToken);
        return (seen?.newestHeartbeatAt ?? "") > restartedAt;
      }, { timeoutMs: 30_000, intervalMs: 250, what: "a heartbeat reaching the restarted replica" });
      await sleep(options.quick ? QUICK_SETTLE_MS : SETTLE_MS);
      const before = { transactions: await transactions(url), at: performance.now() };
      const requestsBefore = await agentRequests(base, adminToken);
      const idle = await sampleIdle(replica.pid, options.idleSeconds);
      const requestsAfter = await agentRequests(base, adminToken);
      await sleep(STATS_DELAY_MS);
      // Both readings lag by up to PostgreSQL's stats delay, so the rate is over the time between them.
      const after = { transactions: await transactions(url), at: performance.now() };
      return {
        machines: options.machines,
        bringUpMs,
        restartLoginMs,
        idle,
        lifetimePeakRssBytes: processPeakRssBytes(replica.pid),
        transactionsPerSecond: (after.transactions - before.transactions - 1) / ((after.at - before.at) / 1000),
        agentRequestsPerSecond: (requestsAfter - requestsBefore) / idle.seconds,
      };
    } catch (error) {
      return await failWithLog(replica, "the idle replica failed", error);
    } finally {
      await replica.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await server.admin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`).catch(() => {});
  }
}
