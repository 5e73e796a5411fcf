/**
 * Issues 7 and 8 in `deno task bench`: the admin API, dashboard and event
 * stream on a large fleet, and the whole service's start and idle figures.
 *
 * - Admin (issue 7): a fresh database of the bench's PostgreSQL seeded with
 *   `machines` provided machines (IPs, provider ids, metros, reservation
 *   ids), served by bench/admin_server_main.ts in a child process: the
 *   machine list and search latency (admin_api_latency.ts), the dashboard's
 *   first paint in Chromium (first_paint.ts), and one update reaching many
 *   event streams held by another process (sse_fanout.ts); the server's RSS
 *   sampled throughout.
 * - Production idle (issue 8, production_idle.ts): a replica on the bench's
 *   PostgreSQL and a standalone simulator, idle.
 * - Embedded (issue 8, embedded_start.ts): main.ts from an empty data dir to
 *   its first heartbeating machine, and idle.
 *
 * @module
 */
import { openBmdb } from "../bmdb/mod.ts";
import type { PostgresServer } from "../tests/harness/postgres.ts";
import { type ApiCaseResult, measureAdminApiLatency, pickProbes } from "./admin_api_latency.ts";
import { startAdminServerProcess } from "./admin_server_process.ts";
import { type EmbeddedResult, measureEmbeddedStart } from "./embedded_start.ts";
import { seedFleet } from "./fleet.ts";
import { firstPaintAvailable, type FirstPaintResult, measureFirstPaint } from "./first_paint.ts";
import type { BenchPlan } from "./plan.ts";
import { processPeakRssBytes, sampleProcessRss } from "./process_stats.ts";
import { measureProductionIdle, type ProductionIdleResult } from "./production_idle.ts";
import { postgresRawSql } from "./raw_sql.ts";
import { measureSseFanout, type SseFanoutResult } from "./sse_fanout.ts";

/** What a run measures, by mode. */
export interface ServicePlan {
  /** Machines of the admin figures' fleet. */
  machines: number;
  /** Timed requests per API case, after `apiWarmup` untimed ones. */
  apiRequests: number;
  apiWarmup: number;
  /** Chromium first visits. */
  firstPaintRuns: number;
  sseClients: number;
  /** Claims and releases pushed to the event streams. */
  sseUpdates: number;
  /** Embedded starts (each from an empty data dir). */
  embeddedRuns: number;
  /** Length of each idle window. */
  idleSeconds: number;
  /** Reservations of the production replica's simulator. */
  productionMachines: number;
}

/** The figures in a full run; smaller ones with `--quick`, so the whole bench stays within minutes. */
export function servicePlan(plan: BenchPlan): ServicePlan {
  return plan.quick
    ? {
      machines: 10_000,
      apiRequests: 60,
      apiWarmup: 5,
      firstPaintRuns: 2,
      sseClients: 50,
      sseUpdates: 10,
      embeddedRuns: 1,
      idleSeconds: 3,
      productionMachines: 8,
    }
    : {
      machines: 100_000,
      apiRequests: 200,
      apiWarmup: 10,
      firstPaintRuns: 3,
      sseClients: 200,
      sseUpdates: 20,
      embeddedRuns: plan.runs,
      idleSeconds: 30,
      productionMachines: 8,
    };
}

export interface AdminFigures {
  machines: number;
  seedSeconds: number;
  api: ApiCaseResult[];
  /** Absent when Chromium is not installed. */
  firstPaint?: FirstPaintResult;
  sse: SseFanoutResult;
  /** The server process's RSS, sampled every 100 ms while the figures above were measured. */
  serverRssPeakBytes: number;
  /** Its largest RSS over its life (VmHWM), start-up included. */
  serverLifetimePeakRssBytes: number;
}

/** Everything this part of the bench measured. */
export interface ServiceFigures {
  plan: ServicePlan;
  admin: AdminFigures;
  production: ProductionIdleResult;
  embedded: EmbeddedResult;
}

const ADMIN_DATABASE = "bench_service_admin";
/** Metros the admin fleet is spread over. None is all hex digits, which a search would also read as a machine id prefix. */
const METROS = ["sv", "ny", "am", "fr", "sg", "sy", "ld", "ch"];

async function measureAdmin(
  server: PostgresServer,
  plan: ServicePlan,
  backoffEvery: number,
  progress: (line: string) => void,
): Promise<AdminFigures> {
  await server.admin(`DROP DATABASE IF EXISTS ${ADMIN_DATABASE} WITH (FORCE)`);
  await server.admin(`CREATE DATABASE ${ADMIN_DATABASE}`);
  const url = server.url(ADMIN_DATABASE);
  const raw = postgresRawSql(url);
  try {
    const migrating = await openBmdb({ component: "bench", databaseUrl: url, poolSize: 1 });
    await migrating.close();
    const seedStarted = performance.now();
    await seedFleet(raw, { machines: plan.machines, backoffEvery, metros: METROS, reservationIds: true });
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const probes = await pickProbes(raw, 64);
    progress(`admin figures: seeded ${plan.machines} machines in ${seedSeconds.toFixed(1)} s; starting the server`);

    await using adminServer = await startAdminServerProcess(url);
    const rss = sampleProcessRss(adminServer.pid);
    try {
      const api = await measureAdminApiLatency(adminServer.url, adminServer.adminToken, probes, {
        requests: plan.apiRequests,
        warmup: plan.apiWarmup,
      });
      for (const c of api) {
        progress(`admin API ${c.name}: p50 ${c.p50Ms.toFixed(1)} ms, p99 ${c.p99Ms.toFixed(1)} ms (${c.rows} rows)`);
      }
      let firstPaint: FirstPaintResult | undefined;
      if (firstPaintAvailable()) {
        firstPaint = await measureFirstPaint(adminServer.url, adminServer.adminToken, plan.firstPaintRuns);
        progress(
          `dashboard first visit (median of ${plan.firstPaintRuns}): first contentful paint ` +
            `${firstPaint.median.firstContentfulPaintMs.toFixed(0)} ms, Machines rows ` +
            `${firstPaint.median.firstRowsMs.toFixed(0)} ms`,
        );
      } else {
        progress("dashboard first paint: skipped (Chromium not found; apt-get install -y chromium)");
      }
      const sse = await measureSseFanout(adminServer.url, adminServer.adminToken, url, {
        clients: plan.sseClients,
        updates: plan.sseUpdates,
        machineId: probes.machines[0].machineId,
      });
      progress(
        `event stream, ${sse.clients} clients, ${sse.updates} updates: commit to arrival p50 ` +
          `${sse.p50Ms.toFixed(0)} ms, p99 ${sse.p99Ms.toFixed(0)} ms, max ${sse.maxMs.toFixed(0)} ms`,
      );
      const serverRssPeakBytes = rss.stop();
      const serverLifetimePeakRssBytes = processPeakRssBytes(adminServer.pid);
      return {
        machines: plan.machines,
        seedSeconds,
        api,
        ...(firstPaint ? { firstPaint } : {}),
        sse,
        serverRssPeakBytes,
        serverLifetimePeakRssBytes,
      };
    } finally {
      rss.stop();
    }
  } finally {
    await raw.close();
    await server.admin(`DROP DATABASE IF EXISTS ${ADMIN_DATABASE} WITH (FORCE)`).catch(() => {});
  }
}

/** Measures issue 7's and issue 8's figures (see the module doc), on the bench's PostgreSQL where one is needed. */
export async function measureServiceFigures(
  server: PostgresServer,
  benchPlan: BenchPlan,
  progress: (line: string) => void,
): Promise<ServiceFigures> {
  const plan = servicePlan(benchPlan);
  const admin = await measureAdmin(server, plan, benchPlan.backoffEvery, progress);
  progress("production replica: bringing up its fleet, then restarting it with the defaults");
  const production = await measureProductionIdle(server, {
    machines: plan.productionMachines,
    idleSeconds: plan.idleSeconds,
    quick: benchPlan.quick,
  });
  progress(
    `production replica idle over ${production.idle.seconds.toFixed(0)} s: CPU ` +
      `${production.idle.cpuPercent.toFixed(2)}% of a core, RSS ${
        (production.idle.rssPeakBytes / 2 ** 20).toFixed(0)
      } ` +
      `MiB, ${production.transactionsPerSecond.toFixed(1)} transactions/s`,
  );
  const embedded = await measureEmbeddedStart(
    { runs: plan.embeddedRuns, idleSeconds: plan.idleSeconds },
    (run, i) =>
      progress(
        `embedded start ${i + 1}/${plan.embeddedRuns}: login line ${(run.loginMs / 1000).toFixed(1)} s, first ` +
          `heartbeating machine ${(run.firstHeartbeatMs / 1000).toFixed(1)} s, all ` +
          `${(run.allHeartbeatingMs / 1000).toFixed(1)} s`,
      ),
  );
  progress(
    `embedded idle over ${embedded.idle.seconds.toFixed(0)} s: CPU ${
      embedded.idle.cpuPercent.toFixed(2)
    }% of a core, ` +
      `RSS ${(embedded.idle.rssPeakBytes / 2 ** 20).toFixed(0)} MiB`,
  );
  return { plan, admin, production, embedded };
}
