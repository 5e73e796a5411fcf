/**
 * `deno task bench`: BMDB work units per second, as ratios to a yardstick
 * taken in the same run (DESIGN.md "Performance targets").
 *
 * On a throwaway PostgreSQL with fsync on, in this order: the anchor
 * (pgbench, bench/anchor) at 1, 4 and 16 clients; Drover at 1, 4 and 16
 * workers on 10,000 machines, then on 100,000; the cost of an idle poll;
 * PGlite in memory at 1 worker; Event Values; and the Metal API simulator's
 * throughput and the client's own cost per call; a fleet's bring-up from
 * hardware reservations to heartbeating agents, and the agent API's
 * heartbeats per second (issue 6); the admin API's latency, the
 * dashboard's first paint, the event stream's fan-out and the whole
 * service's start and idle use, each server in a process of its own (issues
 * 7 and 8); pgbench's TPC-B right after the anchor,
 * and graphile-worker and pg-boss after Drover's runs (issue 9); machines you
 * own, adopted and swept through simulated Redfish BMCs (issue 27). Prints a
 * table and writes bench/results/latest.json and units-by-workers.svg.
 * `--help` for the options.
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import { openBmdb } from "../bmdb/mod.ts";
// Internal entry points, as tests/harness/bmdb.ts uses them: the bench seeds
// the embedded database with raw SQL, so it opens PGlite the way openBmdb()
// without databaseUrl does (PGlite.create("memory://") + the BMDB's driver)
// and keeps the driver.
import { openBmdbOnDriver } from "../bmdb/bmdb.ts";
import { pgliteDriver } from "../bmdb/driver_pglite.ts";
import { postgresBinDir, type PostgresServer, startPostgres, stopPostgresSync } from "../tests/harness/postgres.ts";
import { isConnectionLoss } from "../bmdb/postgres_js_faults.ts";
import { type AnchorResult, calibrateAnchor, findAnchor, runAnchor } from "./anchor.ts";
import { benchConfiguration, type ConfigurationResult, type RunResult } from "./configuration.ts";
import { describeProfile } from "./server_profile.ts";
import { postmasterPid } from "./cpu_time.ts";
import { type FleetCounts, resetFleet, seedFleet } from "./fleet.ts";
import { type IdlePollResult, measureIdlePoll } from "./idle_poll.ts";
import { readMachineInfo } from "./machine_info.ts";
import { median } from "./percentile.ts";
import { type BenchPlan, parsePlan } from "./plan.ts";
import { driverRawSql, postgresRawSql } from "./raw_sql.ts";
import { type BenchReport, formatReport, writeReport } from "./report.ts";
import { measureTpcb, type TpcbResult } from "./tpcb.ts";
import { measurePeers, type PeerResults } from "./peers/measure.ts";
import { writePeersOnlyReport } from "./peers/peers_only.ts";
import { unitsByWorkersChart } from "./peers/section.ts";
import { type EquinixBenchResult, measureEquinix } from "./equinix.ts";
// Issue 6's measurements are imported when they run: their modules (loops, server, simulator) would
// otherwise count in the RSS the 16-worker configurations measure.
import type { FleetBringupResult } from "./fleet_bringup.ts";
import type { AgentApiResult } from "./agent_api.ts";
import type { ServiceFigures } from "./service_figures.ts";
import type { ExecutableFigures } from "./executable_start.ts";
import { formatExecutableSection } from "./executable_report.ts";
import { checkServiceTargets } from "./service_targets.ts";
import type { OwnedMachinesResult } from "./owned_machines.ts";
import { checkOwnedTargets } from "./owned_targets.ts";
import { OWNED_NOTE } from "./owned_report.ts";
import {
  AGENT_API_HEARTBEATS_PER_SECOND,
  checkAgentApiTargets,
  checkBringupTargets,
  checkEquinixTargets,
  checkEventTargets,
  checkPeerTargets,
  checkTargets,
  ETCD_BACKLOG_KEYS,
  type EventResults,
  FAN_OUT_WATCHERS,
  fleetLabel,
} from "./targets.ts";
import { type ChangeFeedLatencyResult, measureChangeFeedLatency } from "./change_feed_latency.ts";
import { type EtcdBacklogResult, measureEtcdBacklog } from "./etcd_backlog.ts";
import { measureMemoryFanOut } from "./event_fanout.ts";
import { etcdBinary, etcdRequirement } from "../tests/harness/etcd.ts";
import { startRecycler } from "./recycler.ts";
import { measureWorkersProcess } from "./workers_process.ts";
import { describeUnitChoice, otherUnitOf, shapeFor } from "./workload.ts";

const COMPONENT = "bench";

function progress(line: string): void {
  console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

function describeRun(label: string, run: RunResult, index: number, runs: number): string {
  return `${label} run ${index + 1}/${runs}: ${run.unitsPerSecond.toFixed(0)} units/s, ` +
    `${run.retriesPer100Units.toFixed(2)} retries/100, claim p50 ${run.claimP50Ms.toFixed(2)} ms ` +
    `p99 ${run.claimP99Ms.toFixed(2)} ms, finish p50 ${run.finishP50Ms.toFixed(2)} ms, CPU/unit ` +
    `${run.cpu.clientUsPerUnit.toFixed(0)} µs here` +
    (Number.isNaN(run.cpu.serverUsPerUnit) ? "" : ` + ${run.cpu.serverUsPerUnit.toFixed(0)} µs server`) +
    (run.conflicts ? `, ${run.conflicts} conflicts` : "") +
    (run.nothingToDo ? `, ${run.nothingToDo} idle claims` : "") +
    (run.peakRssBytes ? `, RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB` : "") +
    (run.server ? `; ${describeProfile(run.server, "unit")}` : "");
}

function medianAnchor(runs: AnchorResult[][], clients: readonly number[]): AnchorResult[] {
  return clients.map((c) => {
    const of = runs.map((run) => run.find((r) => r.clients === c)).filter((r): r is AnchorResult => !!r);
    const cpu = of.map((r) => r.cpu).filter((x) => x !== undefined);
    return {
      clients: c,
      unitsPerSecond: median(of.map((r) => r.unitsPerSecond)),
      retries: median(of.map((r) => r.retries)),
      latencyMs: median(of.map((r) => r.latencyMs)),
      ...(cpu.length > 0
        ? {
          cpu: {
            clientUsPerUnit: median(cpu.map((x) => x.clientUsPerUnit)),
            serverUsPerUnit: median(cpu.map((x) => x.serverUsPerUnit)),
          },
        }
        : {}),
    };
  });
}

async function benchPostgresFleet(
  server: PostgresServer,
  plan: BenchPlan,
  machines: number,
): Promise<{
  fleet: FleetCounts;
  configurations: ConfigurationResult[];
  idlePoll: IdlePollResult;
  changeFeed?: ChangeFeedLatencyResult;
}> {
  const database = `bench_${machines}`;
  await server.admin(`DROP DATABASE IF EXISTS ${database}`);
  await server.admin(`CREATE DATABASE ${database}`);
  const url = server.url(database);
  const raw = postgresRawSql(url);
  const recyclerDb = postgresRawSql(url);
  const statsDb = postgresRawSql(url); // the server profile's (server_profile.ts)
  try {
    // Opening migrates the fresh database; then the raw seed.
    const migrating = await openBmdb({ component: COMPONENT, databaseUrl: url, poolSize: 1 });
    await migrating.close();
    const seedStarted = performance.now();
    const fleet = await seedFleet(raw, { machines, backoffEvery: plan.backoffEvery });
    progress(
      `PostgreSQL ${fleetLabel(machines)}: seeded ${fleet.machines} machines, ${fleet.activeBackoffs} in backoff, ` +
        `${fleet.slots} work slots in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`,
    );
    const configurations: ConfigurationResult[] = [];
    // The headline shape at every worker count first; at the smallest fleet, then the other shape at each.
    const withOther = machines === Math.min(...plan.fleetSizes) && !plan.peersOnly;
    const shapes = (workers: number) => {
      const main = shapeFor(plan.unit, workers);
      return withOther ? [main, otherUnitOf(main)] : [main];
    };
    for (const pass of [0, 1]) {
      for (const workers of plan.workerCounts) {
        const unit = shapes(workers)[pass];
        if (!unit) continue;
        const bmdb = await openBmdb({ component: COMPONENT, databaseUrl: url, poolSize: workers + 4 });
        const label = `PostgreSQL ${fleetLabel(machines)}, ${workers} worker(s), ${unit}`;
        try {
          configurations.push(
            await benchConfiguration({
              database: "postgres",
              machines,
              bmdb,
              raw,
              recyclerDb,
              workers,
              unit,
              liveSessions: plan.liveSessions,
              seconds: plan.seconds,
              runs: plan.runs,
              warmupSeconds: plan.warmupSeconds,
              sampleRss: false, // measured in a process of the workers' own, below
              postmaster: postmasterPid(`${server.dir}/data`),
              serverProfile: { db: statsDb, database },
              onRun: (run, i) => progress(describeRun(label, run, i, plan.runs)),
            }),
          );
        } finally {
          await bmdb.close();
        }
      }
    }
    const most = Math.max(...plan.workerCounts);
    const headline = configurations.find((c) => c.workers === most && c.unit === shapeFor(plan.unit, most));
    // --quick measures it at the smallest fleet only.
    const smallestFleet = machines === Math.min(...plan.fleetSizes);
    if (headline && !plan.peersOnly && (!plan.quick || smallestFleet)) {
      const report = await measureWorkersProcess({
        databaseUrl: url,
        raw,
        recyclerDb,
        workers: most,
        unit: headline.unit,
        liveSessions: plan.liveSessions,
        seconds: plan.seconds,
        warmupSeconds: plan.warmupSeconds,
      });
      headline.workersProcess = report;
      headline.peakRssBytes = report.peaks.rssBytes;
      progress(
        `PostgreSQL ${fleetLabel(machines)}: a process running only ${most} workers: ${
          report.unitsPerSecond.toFixed(0)
        } units/s, RSS ${(report.peaks.rssBytes / 2 ** 20).toFixed(0)} MiB at most over its run, ` +
          `${(report.lifetimePeakRssBytes / 2 ** 20).toFixed(0)} MiB over its life`,
      );
    }
    let changeFeed: ChangeFeedLatencyResult | undefined;
    if (machines === Math.min(...plan.fleetSizes) && !plan.peersOnly) {
      const workers = Math.max(...plan.workerCounts);
      const bmdb = await openBmdb({ component: COMPONENT, databaseUrl: url, poolSize: workers + 6 });
      await resetFleet(raw);
      const recycler = startRecycler(recyclerDb);
      try {
        const [probe] = await raw.query("SELECT machine_id FROM machines ORDER BY machine_id LIMIT 1");
        changeFeed = await measureChangeFeedLatency(bmdb, {
          workers,
          probes: plan.quick ? 10 : 40,
          machineId: String(probe.machine_id),
        });
      } finally {
        await recycler.stop();
        await bmdb.close();
      }
      progress(
        `PostgreSQL ${fleetLabel(machines)}: change feed (${changeFeed.mode}) with ${workers} workers churning ` +
          `${changeFeed.churnUnitsPerSecond.toFixed(0)} units/s: commit to value p50 ` +
          `${changeFeed.medianMs.toFixed(1)} ms, p99 ${
            changeFeed.p99Ms.toFixed(1)
          } ms over ${changeFeed.changes} changes`,
      );
    }
    const bmdb = await openBmdb({ component: COMPONENT, databaseUrl: url, poolSize: 4 });
    let idlePoll: IdlePollResult;
    try {
      idlePoll = await measureIdlePoll(bmdb, raw, { machines, polls: plan.idlePolls });
    } finally {
      await bmdb.close();
    }
    progress(`PostgreSQL ${fleetLabel(machines)}: idle poll median ${idlePoll.medianMs.toFixed(1)} ms`);
    return { fleet, configurations, idlePoll, ...(changeFeed ? { changeFeed } : {}) };
  } finally {
    await Promise.all([raw.close(), recyclerDb.close(), statsDb.close()]);
    await server.admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
  }
}

/** MemoryValue fan-out, an EtcdValue backlog (when etcd is installed), and the change feed measured earlier. */
async function benchEventValues(
  plan: BenchPlan,
  changeFeed: ChangeFeedLatencyResult | undefined,
): Promise<EventResults> {
  const fanOut = await measureMemoryFanOut(FAN_OUT_WATCHERS, plan.quick ? 20 : 100);
  progress(
    `MemoryValue to ${fanOut.watchers} watchers: p50 ${fanOut.medianMs.toFixed(2)} ms, p99 ${
      fanOut.p99Ms.toFixed(2)
    } ms`,
  );
  let etcdBacklog: EtcdBacklogResult | undefined;
  if (etcdBinary()) {
    etcdBacklog = await measureEtcdBacklog(ETCD_BACKLOG_KEYS, plan.runs);
    progress(`EtcdValue backlog of ${etcdBacklog.keys} keys: median ${etcdBacklog.medianMs.toFixed(0)} ms`);
  } else {
    progress(`EtcdValue backlog: skipped (${etcdRequirement.probe()}; install: ${etcdRequirement.install})`);
  }
  return { fanOut, ...(etcdBacklog ? { etcdBacklog } : {}), ...(changeFeed ? { changeFeed } : {}) };
}

async function benchPglite(plan: BenchPlan): Promise<{ fleet: FleetCounts; configuration: ConfigurationResult }> {
  const startedAt = performance.now();
  const driver = await pgliteDriver(await PGlite.create("memory://"), "PGlite in memory");
  const bmdb = await openBmdbOnDriver(driver, { component: COMPONENT });
  try {
    const raw = driverRawSql(driver);
    const fleet = await seedFleet(raw, { machines: plan.pgliteFleetSize, backoffEvery: plan.backoffEvery });
    progress(
      `PGlite ${fleetLabel(plan.pgliteFleetSize)}: opened and seeded in ${
        ((performance.now() - startedAt) / 1000).toFixed(1)
      } s`,
    );
    const label = `PGlite ${fleetLabel(plan.pgliteFleetSize)}, 1 worker`;
    const configuration = await benchConfiguration({
      database: "pglite",
      machines: plan.pgliteFleetSize,
      bmdb,
      raw,
      recyclerDb: raw,
      workers: 1,
      unit: shapeFor(plan.unit, 1),
      liveSessions: plan.liveSessions,
      seconds: plan.seconds,
      runs: plan.runs,
      warmupSeconds: plan.warmupSeconds,
      sampleRss: false,
      onRun: (run, i) => progress(describeRun(label, run, i, plan.runs)),
    });
    return { fleet, configuration };
  } finally {
    await bmdb.close();
  }
}

async function main(): Promise<number> {
  const plan = parsePlan(Deno.args);
  if (!plan) return 0;
  const startedAt = performance.now();
  const loadAtStart = Deno.loadavg();
  const anchorSource = await findAnchor();
  progress(`anchor: ${anchorSource.dir} (${anchorSource.origin === "shared" ? "shared" : "vendored copy"})`);
  if (anchorSource.vendoredDiffers.length > 0) {
    progress(`warning: bench/anchor/ differs from the shared anchor in ${anchorSource.vendoredDiffers.join(", ")}`);
  }

  const server = await startPostgres({ fsync: true });
  const onSignal = () => {
    server.stop().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  // An error nobody awaited ends the process without running the finally
  // below: stop the server first, so no throwaway PostgreSQL outlives the bench.
  // (A lost connection's stray error is the BMDB's guard's to swallow.)
  const stopOnCrash = (event: ErrorEvent | PromiseRejectionEvent) => {
    const reason = "reason" in event ? event.reason : event.error;
    if (!isConnectionLoss(reason)) stopPostgresSync(server.dir);
  };
  globalThis.addEventListener("unhandledrejection", stopOnCrash);
  globalThis.addEventListener("error", stopOnCrash);
  try {
    progress(`PostgreSQL (fsync on) at ${server.url()}`);
    const binDir = postgresBinDir();
    const admin = postgresRawSql(server.url());
    const machine = await readMachineInfo(admin, binDir).finally(() => admin.close());
    if (plan.ownedOnly) {
      const { runOwnedOnly } = await import("./owned_only.ts");
      await runOwnedOnly(server, plan, progress);
      return 0;
    }

    await server.admin("CREATE DATABASE anchor");
    const postmaster = postmasterPid(`${server.dir}/data`);
    const anchorOptions = {
      host: server.host,
      port: server.port,
      user: "postgres",
      database: "anchor",
      seconds: plan.seconds,
      clients: plan.workerCounts,
      binDir,
      postmaster,
    };
    // CPU per unit is a difference from a 1-second calibration run: none for 1-second runs (--quick).
    const calibration = postmaster === undefined || plan.seconds <= 1
      ? undefined
      : await calibrateAnchor(anchorSource, { ...anchorOptions, postmaster });
    const anchorRuns: AnchorResult[][] = [];
    for (let i = 0; i < plan.runs; i++) {
      const results = await runAnchor(anchorSource, { ...anchorOptions, calibration });
      anchorRuns.push(results);
      progress(
        `anchor run ${i + 1}/${plan.runs}: ` +
          results.map((r) =>
            `${r.clients}c ${r.unitsPerSecond} units/s` +
            (r.cpu ? ` (CPU/unit ${r.cpu.clientUsPerUnit.toFixed(0)} + ${r.cpu.serverUsPerUnit.toFixed(0)} µs)` : "")
          ).join(", "),
      );
    }
    // The anchor as run.sh's usage line shows it (`-d anchor`: pgbench debug on), for comparison: full runs only.
    const documentedRuns: AnchorResult[][] = [];
    for (let i = 0; i < (plan.quick ? 0 : plan.runs); i++) {
      const results = await runAnchor(anchorSource, { ...anchorOptions, postmaster: undefined, asDocumented: true });
      documentedRuns.push(results);
      progress(
        `anchor as documented (-d) run ${i + 1}/${plan.runs}: ` +
          results.map((r) => `${r.clients}c ${r.unitsPerSecond} units/s`).join(", "),
      );
    }
    await server.admin("DROP DATABASE anchor WITH (FORCE)");
    // Issue 9: the usual yardstick, pgbench's TPC-B-like script, at the same client counts.
    const tpcb: TpcbResult = await measureTpcb({
      host: server.host,
      port: server.port,
      user: "postgres",
      database: "tpcb",
      clients: plan.workerCounts,
      seconds: plan.seconds,
      runs: plan.runs,
      binDir,
      postmaster,
      onRun: (results, i) =>
        progress(
          `pgbench TPC-B run ${i + 1}/${plan.runs}: ` +
            results.map((r) =>
              `${r.clients}c ${r.transactionsPerSecond.toFixed(0)} tps` +
              (r.cpu
                ? ` (CPU/transaction ${r.cpu.clientUsPerTransaction.toFixed(0)} + ` +
                  `${r.cpu.serverUsPerTransaction.toFixed(0)} µs)`
                : "")
            ).join(", "),
        ),
    }, (sql) => server.admin(sql));

    const fleets: FleetCounts[] = [];
    const postgres: ConfigurationResult[] = [];
    const otherUnit: ConfigurationResult[] = [];
    let changeFeed: ChangeFeedLatencyResult | undefined;
    const idlePolls: IdlePollResult[] = [];
    for (const machines of plan.fleetSizes) {
      const result = await benchPostgresFleet(server, plan, machines);
      fleets.push(result.fleet);
      postgres.push(...result.configurations.filter((c) => c.unit === shapeFor(plan.unit, c.workers)));
      otherUnit.push(...result.configurations.filter((c) => c.unit !== shapeFor(plan.unit, c.workers)));
      idlePolls.push(result.idlePoll);
      changeFeed ??= result.changeFeed;
    }
    // Issue 9: graphile-worker and pg-boss, each on fresh databases of the same server, under Node.js.
    const peers: PeerResults = await measurePeers(server, plan, progress);
    if (plan.peersOnly) {
      await writePeersOnlyReport({
        timestamp: new Date().toISOString(),
        durationSeconds: (performance.now() - startedAt) / 1000,
        plan,
        machine,
        anchor: { source: anchorSource, runs: anchorRuns, median: medianAnchor(anchorRuns, plan.workerCounts) },
        postgres,
        tpcb,
        peers,
      });
      progress(`wrote ${plan.outPath} and ${plan.chartPath}`);
      return 0;
    }
    const { bringupSettings, measureFleetBringup } = await import("./fleet_bringup.ts");
    const fleetBringup: FleetBringupResult = await measureFleetBringup(
      server,
      plan.quick ? bringupSettings(200, 120, 1000) : bringupSettings(10_000, 480),
      progress,
    );
    progress(
      `fleet bring-up of ${fleetBringup.settings.machines} machines: ` +
        (fleetBringup.complete
          ? `all heartbeating after ${(fleetBringup.heartbeating.allMs / 1000).toFixed(1)} s`
          : `INCOMPLETE after ${(fleetBringup.elapsedMs / 1000).toFixed(0)} s (${fleetBringup.heartbeating.reached} ` +
            "heartbeating)") +
        `, ${fleetBringup.transactions.perMachine.toFixed(2)} transactions and ` +
        `${fleetBringup.apiRequests.perMachine.toFixed(2)} Metal API requests per machine, limiters ` +
        (fleetBringup.claimLimiter.held && fleetBringup.creationLimiter.held ? "held" : "EXCEEDED"),
    );
    const { AGENT_API_CONCURRENCY, AGENT_API_MACHINES, measureAgentApi } = await import("./agent_api.ts");
    const agentApi: AgentApiResult = await measureAgentApi(server, {
      machines: AGENT_API_MACHINES,
      concurrency: AGENT_API_CONCURRENCY,
      seconds: plan.quick ? 2 : plan.seconds,
      warmupSeconds: plan.quick ? 1 : 2,
      runs: plan.runs,
    }, (run, i) =>
      progress(
        `agent API run ${i + 1}/${plan.runs}: ${run.acceptedPerSecond.toFixed(0)} heartbeats/s accepted` +
          (Object.keys(run.errors).length > 0 ? ` (NOT 204: ${JSON.stringify(run.errors)})` : "") +
          `, p50 ${run.p50Ms.toFixed(2)} ms p99 ${run.p99Ms.toFixed(2)} ms, ${
            run.heartbeatsPerStatement.toFixed(1)
          } per statement, CPU/heartbeat ${run.cpuUs.server.toFixed(0)} µs server + ` +
          `${run.cpuUs.postgres.toFixed(0)} µs PostgreSQL + ${run.cpuUs.loadGenerator.toFixed(0)} µs load generator`,
      ));
    // Issues 7 and 8: admin API, dashboard, event stream, and the service's start and idle (child processes).
    const { measureServiceFigures } = await import("./service_figures.ts");
    const service: ServiceFigures = await measureServiceFigures(server, plan, progress);
    // Issue 29: the one executable beside deno task start; full runs only (building it alone takes 10-15 s).
    const { measureExecutable } = await import("./executable_start.ts");
    const executable: ExecutableFigures | undefined = plan.quick
      ? undefined
      : await measureExecutable({ laterRuns: plan.runs, idleSeconds: service.plan.idleSeconds }, progress);
    // Issue 27: machines you own (the BMC simulator and Drover's side each a child process).
    const { measureOwnedMachines, ownedSettings } = await import("./owned_machines.ts");
    const owned: OwnedMachinesResult = await measureOwnedMachines(server, ownedSettings(plan.quick), progress);
    await server.stop();
    const pglite = await benchPglite(plan);
    fleets.push(pglite.fleet);
    const events = await benchEventValues(plan, changeFeed);
    const equinix: EquinixBenchResult = await measureEquinix({
      seconds: plan.quick ? 2 : 5,
      runs: plan.runs,
      overheadCalls: plan.quick ? 200 : 500,
    });
    progress(
      `Metal API simulator: ${equinix.simulator.requestsPerSecond.toFixed(0)} getDevice/s, ` +
        `${equinix.simulator.requestsPerCpuSecond.toFixed(0)} per CPU-second; client overhead ` +
        `${equinix.client.overheadMs.toFixed(3)} ms per call`,
    );

    const anchorMedian = medianAnchor(anchorRuns, plan.workerCounts);
    const { outPath, chartPath: _chartPath, ...planFields } = plan;
    const report: BenchReport & { executable?: ExecutableFigures } = {
      timestamp: new Date().toISOString(),
      durationSeconds: (performance.now() - startedAt) / 1000,
      loadAverage: { start: loadAtStart, end: Deno.loadavg() },
      plan: planFields,
      machine,
      anchor: {
        source: anchorSource,
        runs: anchorRuns,
        median: anchorMedian,
        ...(documentedRuns.length > 0
          ? { asDocumented: { runs: documentedRuns, median: medianAnchor(documentedRuns, plan.workerCounts) } }
          : {}),
      },
      fleets,
      postgres,
      otherUnit,
      pglite: [pglite.configuration],
      idlePolls,
      events,
      equinix,
      fleetBringup,
      agentApi,
      service,
      tpcb,
      peers,
      owned,
      ...(executable ? { executable } : {}),
      targets: [
        ...checkTargets({
          anchorUnitsPerSecond: new Map(anchorMedian.map((a) => [a.clients, a.unitsPerSecond])),
          postgres,
          pglite: [pglite.configuration],
        }),
        ...checkEventTargets(events),
        ...checkEquinixTargets(equinix),
        ...checkBringupTargets(fleetBringup),
        ...checkAgentApiTargets(agentApi, new Map(anchorMedian.map((a) => [a.clients, a.unitsPerSecond]))),
        ...checkServiceTargets(service),
        ...checkPeerTargets(postgres, peers),
        ...checkOwnedTargets(owned),
      ],
      notes: [
        `A unit is a claim and a finish. The main table's units are strung ${describeUnitChoice(plan.unit)} The ` +
        "second table has the other shape at each worker count, for comparison." +
        " Retries are bmdb.counters.transactionRetries per 100 units.",
        "The recycler (DELETE of machine_agent_started rows older than 1 s, every 100 ms, on its own READ " +
        "COMMITTED connection) keeps machines coming back like the anchor's 1-second tag: extra work Drover " +
        "pays here and the anchor does not.",
        "CPU µs/unit: client is this Deno process (workers, BMDB, postgres.js, the recycler's client side; with " +
        "PGlite also the database) or, for the anchor, run.sh's pgbench and psql; server is every PostgreSQL " +
        "process. The anchor's are a difference between its run and a 1-second run, so run.sh's schema setup cancels.",
        "run.sh gets its database through PGDATABASE: with its usage example's `-d anchor`, pgbench (for which -d " +
        "means --debug) prints a dozen lines per transaction into run.sh's capture, and the anchor runs 15-25% slower.",
        "The anchor has 10,000 machines; the 100k rows' ratios compare with that same anchor.",
        `${plan.liveSessions} live sessions: the workers' own (heartbeating) plus idle rows with a day-long deadline.`,
        "PGlite is opened as openBmdb() without databaseUrl opens it (PGlite.create('memory://') and the BMDB's " +
        "PGlite driver), kept by the bench to seed it with raw SQL; the recycler shares its one backend.",
        "Fleet bring-up: one run, every part in this process (simulator, client with apiRate 0, loops, agent API, " +
        "the agents themselves), so the agents' signing and HTTP share the control plane's CPU. Transactions are " +
        "pg_stat_database's commits + rollbacks of its fresh database over the run, read after every connection " +
        "closed; limiters held when no window between two tokens got more than burst + window/interval.",
        `Agent API: the issue's ${AGENT_API_HEARTBEATS_PER_SECOND} heartbeats/s is an absolute figure; DESIGN.md ` +
        "reads such figures as ratios to the anchor, so the ratio to the anchor's 16-client units/s is checked too. " +
        "The load generator runs in its own process; the server (this process) is one JavaScript thread.",
        "Issues 7 and 8: the servers measured (admin server, production replica, embedded main.ts) each run in a " +
        "process of their own with deno task start's flags; CPU and RSS are theirs, from /proc. Quick runs use " +
        "10,000 machines, 50 event stream clients and 3 s idle windows; full runs the issues' 100,000, 200 and 30 s.",
        "Issue 9: graphile-worker and pg-boss run in a Node.js child process each, on a fresh database per run, " +
        "with the queue filled beforehand, one job per fetch (settings: bench/README.md, Peers); they work at READ " +
        "COMMITTED with SKIP LOCKED, Drover's units are SERIALIZABLE. CPU per job: client is that Node.js process, " +
        "server every PostgreSQL process. pgbench TPC-B: `pgbench -i -s <largest client count>`, then " +
        "`pgbench -c N -j N -T s` with its defaults (built-in script, simple protocol, READ COMMITTED).",
        OWNED_NOTE,
      ],
    };
    console.log(formatReport(report));
    console.log(
      executable
        ? formatExecutableSection(executable, service.embedded).join("\n")
        : "One executable (issue 29): measured in full runs only (deno task bench without --quick).\n",
    );
    await writeReport(outPath, report);
    await Deno.writeTextFile(plan.chartPath, unitsByWorkersChart(report));
    progress(`wrote ${outPath} and ${plan.chartPath}`);
    return 0;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await server.stop();
  }
}

Deno.exit(await main());
