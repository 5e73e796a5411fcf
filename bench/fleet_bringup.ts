/**
 * Fleet bring-up (issue 6): N simulated machines from hardware reservations
 * to heartbeating agents, through the real parts in this process: the Metal
 * API simulator (N reservations, fast device clock, no faults), the Equinix
 * client (apiRate 0; one call at a time, by design), the BMDB on a fresh
 * database of the bench's PostgreSQL (fsync on), the server's agent API on
 * 127.0.0.1, the simulated agent starter and every control loop
 * (`startControlPlane`).
 *
 * Measured: the time from the control plane's start until every machine's
 * device was created, its agent started, and its first heartbeat accepted
 * (with a progress timeline); the database's transactions per machine (the
 * change of `xact_commit + xact_rollback` in `pg_stat_database`, read after
 * every connection closed and PostgreSQL's ~1 s stats delay); the Metal API
 * requests per machine (the simulator's count); and whether the claim and
 * device-creation limiters held (every token's time is recorded; no window
 * got more than burst + window ÷ interval).
 *
 * @module
 */
import { Registry } from "prom-client";
import type { Logger, MachineProvided } from "../bmdb/mod.ts";
import { openBmdb } from "../bmdb/mod.ts";
import { AGENT_API_PREFIX, AgentEndpoint, type TakeoverInit } from "../agent/mod.ts";
import { EquinixClient } from "../equinix/mod.ts";
import { startSimulator } from "../equinix/simulator/mod.ts";
import {
  type AgentStarter,
  EquinixProvider,
  SimulatedAgentStarter,
  startControlPlane,
  type StartedAgent,
  TokenBucket,
  type TokenBucketOptions,
} from "../loops/mod.ts";
import { listen, serverApp } from "../server/mod.ts";
import type { PostgresServer } from "../tests/harness/postgres.ts";
import { type CpuTimes, postmasterPid, readCpuTimes } from "./cpu_time.ts";
import { percentile } from "./percentile.ts";

/** The settings of one bring-up: what an operator would run a fleet of this size with (see bench/README.md). */
export interface FleetBringupSettings {
  machines: number;
  /** The simulated devices' clock. */
  simulator: { queuedMs: number; provisioningMs: number };
  /** `per_page` of the client's listings (the API's maximum is 1000). */
  clientPageSize: number;
  provisioner: { chunkSize: number; intervalMs: number; creationLimiter: TokenBucketOptions };
  updater: { intervalMs: number };
  initializer: { parallelism: number; idleWaitMs: number; heartbeatIntervalSeconds: number };
  recoverer: { parallelism: number; idleWaitMs: number };
  /** The claims' DB query limiter, shared by the initializer and the recoverer. */
  dbLimiter: TokenBucketOptions;
  /** The agents' pause before retrying a request that was not accepted (their first heartbeat usually races the key's commit). */
  agentRetryMs: number;
  /** The run gives up after this long; the result then says how far it got. */
  timeoutSeconds: number;
}

/**
 * The settings the bench uses for `machines` machines. Defaults where an
 * operator would keep them; otherwise what a 10,000-machine bring-up on a
 * provider without a rate limit warrants (bench/README.md says why).
 * `--quick` passes a shorter updater interval: the updater's first sweep
 * after the devices turn active gates the agents' start, and at 5 s it would
 * be most of a small fleet's bring-up.
 */
export function bringupSettings(
  machines: number,
  timeoutSeconds: number,
  updaterIntervalMs = 5000,
): FleetBringupSettings {
  return {
    machines,
    simulator: { queuedMs: 50, provisioningMs: 200 },
    clientPageSize: 500, // the client's default
    // A pass lists every device and reservation: fewer, bigger passes.
    provisioner: { chunkSize: 1000, intervalMs: 1000, creationLimiter: { intervalMs: 5, burst: 20 } },
    updater: { intervalMs: updaterIntervalMs },
    // 30 s heartbeats: 333/s from 10,000 agents, 20 of them within the recoverer's 600 s timeout.
    initializer: { parallelism: 8, idleWaitMs: 1000, heartbeatIntervalSeconds: 30 },
    recoverer: { parallelism: 1, idleWaitMs: 1000 }, // the runner's defaults
    // The default (250 ms, burst 8) caps agent starts at 4/s: 10,000 machines in 42 minutes.
    dbLimiter: { intervalMs: 5, burst: 8 },
    agentRetryMs: 1000, // the agent's default
    timeoutSeconds,
  };
}

/** How a token bucket behaved over the run. */
export interface LimiterAdherence {
  intervalMs: number;
  burst: number;
  /** Tokens granted (each one claim, or one device creation). */
  tokens: number;
  /** From the bucket's making to the run's end. */
  elapsedMs: number;
  /** burst + elapsed ÷ interval: the most the bucket may grant over the run. */
  allowance: number;
  /** The largest (tokens − window ÷ interval) over every window between two grants: at most `burst` if it held. */
  worstWindowTokensOverRate: number;
  held: boolean;
}

/** Milliseconds from the control plane's start until a share of the machines reached a stage. */
export interface Milestone {
  /** Machines that reached it (N when complete). */
  reached: number;
  /** The first, the median machine, and the last (NaN when none or not all reached it). */
  firstMs: number;
  medianMs: number;
  allMs: number;
}

/** One progress sample. */
export interface BringupSample {
  ms: number;
  created: number;
  agentsStarted: number;
  heartbeating: number;
  /** CPU since the previous sample, as a fraction of one core: this process and PostgreSQL. */
  processCores: number;
  serverCores: number;
}

export interface FleetBringupResult {
  settings: FleetBringupSettings;
  /** Every machine heartbeated within the timeout. */
  complete: boolean;
  /** From the control plane's start until every machine heartbeated (or until the timeout). */
  elapsedMs: number;
  devicesCreated: Milestone;
  agentsStarted: Milestone;
  heartbeating: Milestone;
  /** PostgreSQL's count over the run (`pg_stat_database`), and the BMDB's retried transactions (serialization failures). */
  transactions: {
    commits: number;
    rollbacks: number;
    perMachine: number;
    /** `bmdb.counters.transactionRetries`, and the same by what the BMDB logged (e.g. "transaction retried": a session's `transact`). */
    retries: number;
    retriedBy: Record<string, number>;
  };
  apiRequests: { total: number; perMachine: number; byOperation: Record<string, number> };
  /** The client's logical calls: count and total seconds (waits for its one-at-a-time gate included). */
  clientCalls: Record<string, { calls: number; seconds: number }>;
  claimLimiter: LimiterAdherence;
  creationLimiter: LimiterAdherence;
  /** The runners' counters, by loop. */
  loops: Record<string, { claims: number; idlePolls: number; conflicts: number; failures: number; errors: number }>;
  /** The agent API's answers, `endpoint status` → count. */
  agentRequests: Record<string, number>;
  /** Statements that recorded heartbeats and hardware reports, and the requests they served. */
  agentReportBatches: { batches: number; requests: number };
  /** Average share of a core over the run: this process (everything but PostgreSQL) and PostgreSQL. */
  cpu: { processCores: number; serverCores: number };
  warnings: number;
  errors: number;
  /** The first few warnings and errors logged. */
  firstProblems: string[];
  timeline: BringupSample[];
}

/** A token bucket that records when it granted each token. */
class RecordingBucket extends TokenBucket {
  readonly madeAt = performance.now();
  readonly grants: number[] = [];
  #inTake = false;
  #tookInTake = false;

  override tryTake(): boolean {
    const took = super.tryTake();
    if (took) {
      this.grants.push(performance.now());
      if (this.#inTake) this.#tookInTake = true;
    }
    return took;
  }

  override take(signal?: AbortSignal): Promise<void> {
    // take() grants at once through tryTake() (recorded there), or later, when its promise resolves.
    this.#inTake = true;
    this.#tookInTake = false;
    let taking: Promise<void>;
    try {
      taking = super.take(signal);
    } finally {
      this.#inTake = false;
    }
    if (this.#tookInTake) return taking;
    return taking.then(() => {
      this.grants.push(performance.now());
    });
  }

  adherence(endedAt: number): LimiterAdherence {
    const elapsedMs = endedAt - this.madeAt;
    const allowance = this.burst + elapsedMs / this.intervalMs;
    // Tokens in [t_i, t_j] minus the window's accrual: (j − i + 1) − (t_j − t_i)/interval, maximised in one pass.
    let worst = 0;
    let lowest = Infinity;
    this.grants.forEach((t, j) => {
      const f = j - t / this.intervalMs;
      lowest = Math.min(lowest, f);
      worst = Math.max(worst, f - lowest + 1);
    });
    // Grant times are read a few microseconds after the grant: a hair of slack for that.
    const held = this.grants.length <= allowance && worst <= this.burst + 0.05;
    return {
      intervalMs: this.intervalMs,
      burst: this.burst,
      tokens: this.grants.length,
      elapsedMs,
      allowance,
      worstWindowTokensOverRate: worst,
      held,
    };
  }
}

/** Records when each machine's agent was first started. */
class TimedStarter implements AgentStarter {
  readonly kind: string;
  readonly started = new Map<string, number>();
  readonly #inner: AgentStarter;

  constructor(inner: AgentStarter) {
    this.#inner = inner;
    this.kind = inner.kind;
  }

  async start(machine: MachineProvided, init: TakeoverInit, signal: AbortSignal): Promise<StartedAgent> {
    const started = await this.#inner.start(machine, init, signal);
    if (!this.started.has(machine.machineId)) this.started.set(machine.machineId, performance.now());
    return started;
  }
}

/**
 * Counts what the loops log at warn and error, keeping the first few lines,
 * and the BMDB's retried transactions by what was retried (its debug lines).
 */
function countingLogger(): Logger & {
  warnings: number;
  errors: number;
  first: string[];
  retried: Record<string, number>;
} {
  const keep = (level: string, message: string, fields?: Record<string, unknown>) => {
    if (logger.first.length >= 5) return;
    const rest = Object.entries(fields ?? {}).map(([k, v]) => `${k}=${v instanceof Error ? v.message : String(v)}`);
    logger.first.push([`${level}: ${message}`, ...rest].join(" "));
  };
  const logger = {
    warnings: 0,
    errors: 0,
    first: [] as string[],
    retried: {} as Record<string, number>,
    debug(message: string, fields?: Record<string, unknown>) {
      if (!message.endsWith(" retried")) return;
      const count = typeof fields?.count === "number" ? fields.count : 1;
      logger.retried[message] = (logger.retried[message] ?? 0) + count;
    },
    info() {},
    warn(message: string, fields?: Record<string, unknown>) {
      logger.warnings++;
      keep("warn", message, fields);
    },
    error(message: string, fields?: Record<string, unknown>) {
      logger.errors++;
      keep("error", message, fields);
    },
  };
  return logger;
}

function milestone(times: Iterable<number>, startedAt: number, machines: number): Milestone {
  const ms = [...times].map((t) => t - startedAt);
  const all = ms.length >= machines;
  return {
    reached: ms.length,
    firstMs: ms.length > 0 ? Math.min(...ms) : NaN,
    medianMs: all ? percentile(ms, 50) : NaN,
    allMs: all ? Math.max(...ms) : NaN,
  };
}

/** Sums of a prom-client metric's values by one label, e.g. the loops' claims by `loop`. */
async function byLabel(registry: Registry, name: string, label: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  const out: Record<string, number> = {};
  if (!metric) return out;
  for (const v of (await metric.get()).values) {
    const key = String(v.labels[label] ?? "");
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

async function xacts(server: PostgresServer, database: string): Promise<{ commits: number; rollbacks: number }> {
  const [row] = await server.admin(
    `SELECT xact_commit::bigint AS commits, xact_rollback::bigint AS rollbacks FROM pg_stat_database
     WHERE datname = '${database}'`,
  );
  return { commits: Number(row.commits), rollbacks: Number(row.rollbacks) };
}

/** PostgreSQL publishes a backend's counters up to ~1 s late (at its exit at the latest). */
const STATS_DELAY_MS = 1500;
const SAMPLE_EVERY_MS = 1000;

type InProcess = Omit<FleetBringupResult, "transactions">;

/**
 * One bring-up of `settings.machines` machines on a fresh database of
 * `server`. `onProgress` receives a line every few seconds.
 */
export async function measureFleetBringup(
  server: PostgresServer,
  settings: FleetBringupSettings,
  onProgress: (line: string) => void = () => {},
): Promise<FleetBringupResult> {
  const database = "bench_bringup";
  await server.admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await server.admin(`CREATE DATABASE ${database}`);
  const url = server.url(database);
  const logger = countingLogger();
  try {
    // Migrate first, on a connection that then ends, so the baseline holds the migration's transactions.
    const migrating = await openBmdb({ component: "bench", databaseUrl: url, poolSize: 1, logger });
    await migrating.close();
    await new Promise((r) => setTimeout(r, STATS_DELAY_MS));
    const before = await xacts(server, database);
    onProgress(`bring-up of ${settings.machines} machines: database ${database} migrated`);
    const { retries, ...result } = await bringUp(
      url,
      settings,
      postmasterPid(`${server.dir}/data`),
      logger,
      onProgress,
    );
    // Every connection of the run has closed; its backend publishes its counters as it exits.
    await new Promise((r) => setTimeout(r, STATS_DELAY_MS));
    const after = await xacts(server, database);
    const commits = after.commits - before.commits;
    const rollbacks = after.rollbacks - before.rollbacks;
    return {
      ...result,
      transactions: {
        commits,
        rollbacks,
        perMachine: (commits + rollbacks) / settings.machines,
        retries,
        retriedBy: logger.retried,
      },
    };
  } finally {
    await server.admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {});
  }
}

/** Everything in-process, from the simulator's start to the last connection's close. */
async function bringUp(
  url: string,
  settings: FleetBringupSettings,
  postmaster: number | undefined,
  logger: ReturnType<typeof countingLogger>,
  onProgress: (line: string) => void,
): Promise<InProcess & { retries: number }> {
  const n = settings.machines;
  // Closed in reverse order: agents, server, BMDB, client, simulator.
  await using stack = new AsyncDisposableStack();
  const sim = stack.use(
    await startSimulator({ reservations: n, timing: { ...settings.simulator, rebootMs: 300, deprovisionMs: 50 } }),
  );
  const registry = new Registry();
  const client = new EquinixClient({
    baseUrl: sim.url,
    token: sim.token,
    projectId: sim.projectId,
    apiRate: 0,
    pageSize: settings.clientPageSize,
    registry,
  });
  stack.defer(() => client.close());
  const bmdb = await openBmdb({ component: "bench", databaseUrl: url, migrate: false, logger });
  stack.defer(() => bmdb.close());
  const apiServer = stack.use(listen(serverApp({ bmdb, logger, registry }), { hostname: "127.0.0.1", port: 0 }));

  // The first accepted heartbeat of each machine, seen by the agents' fetch.
  const firstHeartbeat = new Map<string, number>();
  let allHeartbeating: () => void = () => {};
  const everyoneHeartbeats = new Promise<boolean>((resolve) => allHeartbeating = () => resolve(true));
  const heartbeatPath = AGENT_API_PREFIX + AgentEndpoint.Heartbeat;
  const decoder = new TextDecoder();
  const agentFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (response.status === 204 && String(input).endsWith(heartbeatPath) && init?.body instanceof Uint8Array) {
      const { machineId } = JSON.parse(decoder.decode(init.body)) as { machineId: string };
      if (!firstHeartbeat.has(machineId)) {
        firstHeartbeat.set(machineId, performance.now());
        if (firstHeartbeat.size >= n) allHeartbeating();
      }
    }
    return response;
  };
  const simulated = new SimulatedAgentStarter({
    fleet: sim.fleet,
    logger,
    fetch: agentFetch,
    retryMs: settings.agentRetryMs,
  });
  stack.defer(() => simulated.close());
  const starter = new TimedStarter(simulated);
  const claimLimiter = new RecordingBucket(settings.dbLimiter);
  const creationLimiter = new RecordingBucket(settings.provisioner.creationLimiter);

  const cpuAtStart = readCpuTimes(postmaster);
  const startedAt = performance.now();
  const plane = startControlPlane({
    bmdb,
    providers: [{ provider: new EquinixProvider(client), starter }],
    agentUrl: apiServer.url,
    registry,
    logger,
    dbLimiter: claimLimiter,
    provisioner: {
      maxDevices: n,
      chunkSize: settings.provisioner.chunkSize,
      intervalMs: settings.provisioner.intervalMs,
      creationLimiter,
    },
    updater: { intervalMs: settings.updater.intervalMs },
    initializer: {
      parallelism: settings.initializer.parallelism,
      idleWaitMs: settings.initializer.idleWaitMs,
      heartbeatIntervalSeconds: settings.initializer.heartbeatIntervalSeconds,
    },
    recoverer: { parallelism: settings.recoverer.parallelism, idleWaitMs: settings.recoverer.idleWaitMs },
  });

  // Devices created, read off the simulator's counters every 50 ms; a progress sample every second.
  const createdAt: number[] = [];
  const timeline: BringupSample[] = [];
  let lastCpu = cpuAtStart;
  let lastSampleAt = startedAt;
  const sample = () => {
    const now = performance.now();
    const created = sim.stats.byOperation.createDevice ?? 0;
    while (createdAt.length < Math.min(created, n)) createdAt.push(now);
    if (now - lastSampleAt < SAMPLE_EVERY_MS) return;
    const cpu = readCpuTimes(postmaster);
    const s: BringupSample = {
      ms: Math.round(now - startedAt),
      created,
      agentsStarted: starter.started.size,
      heartbeating: firstHeartbeat.size,
      processCores: (cpu.selfMs - lastCpu.selfMs) / (now - lastSampleAt),
      serverCores: (cpu.serverMs - lastCpu.serverMs) / (now - lastSampleAt),
    };
    timeline.push(s);
    if (timeline.length % 5 === 0) {
      onProgress(
        `bring-up ${(s.ms / 1000).toFixed(0)} s: ${s.created} devices created, ${s.agentsStarted} agents started, ` +
          `${s.heartbeating} heartbeating; CPU ${s.processCores.toFixed(2)} + ${s.serverCores.toFixed(2)} cores`,
      );
    }
    lastCpu = cpu;
    lastSampleAt = now;
  };
  const sampler = setInterval(sample, 50);

  let complete: boolean;
  let endedAt: number;
  let cpuAtEnd: CpuTimes;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<boolean>((r) => timer = setTimeout(() => r(false), settings.timeoutSeconds * 1000));
    complete = await Promise.race([everyoneHeartbeats, timeout]);
    endedAt = performance.now();
    cpuAtEnd = readCpuTimes(postmaster);
  } finally {
    clearTimeout(timer);
    clearInterval(sampler);
    await plane.stop();
  }
  const elapsedMs = endedAt - startedAt;

  const [claims, idlePolls, conflicts, failures, errors] = await Promise.all(
    ["claims", "idle_polls", "conflicts", "failures", "errors"].map((m) =>
      byLabel(registry, `drover_loop_${m}_total`, "loop")
    ),
  );
  const loops: FleetBringupResult["loops"] = {};
  for (const loop of new Set([...Object.keys(claims), ...Object.keys(idlePolls)])) {
    loops[loop] = {
      claims: claims[loop] ?? 0,
      idlePolls: idlePolls[loop] ?? 0,
      conflicts: conflicts[loop] ?? 0,
      failures: failures[loop] ?? 0,
      errors: errors[loop] ?? 0,
    };
  }
  const clientCalls: FleetBringupResult["clientCalls"] = {};
  const durations = registry.getSingleMetric("drover_equinix_call_duration_seconds");
  for (const v of durations ? (await durations.get()).values : []) {
    const entry = clientCalls[String(v.labels.operation)] ??= { calls: 0, seconds: 0 };
    const name = (v as { metricName?: string }).metricName ?? "";
    if (name.endsWith("_sum")) entry.seconds = v.value;
    if (name.endsWith("_count")) entry.calls = v.value;
  }
  const agentRequests: Record<string, number> = {};
  const requests = registry.getSingleMetric("drover_agent_requests_total");
  for (const v of requests ? (await requests.get()).values : []) {
    agentRequests[`${v.labels.endpoint} ${v.labels.status}`] = v.value;
  }

  return {
    settings,
    complete,
    elapsedMs,
    devicesCreated: milestone(createdAt, startedAt, n),
    agentsStarted: milestone(starter.started.values(), startedAt, n),
    heartbeating: milestone(firstHeartbeat.values(), startedAt, n),
    apiRequests: {
      total: sim.stats.requests,
      perMachine: sim.stats.requests / n,
      byOperation: { ...sim.stats.byOperation },
    },
    clientCalls,
    claimLimiter: claimLimiter.adherence(endedAt),
    creationLimiter: creationLimiter.adherence(endedAt),
    loops,
    agentRequests,
    agentReportBatches: { ...bmdb.batches.agentReports },
    retries: bmdb.counters.transactionRetries,
    cpu: {
      processCores: (cpuAtEnd.selfMs - cpuAtStart.selfMs) / elapsedMs,
      serverCores: (cpuAtEnd.serverMs - cpuAtStart.serverMs) / elapsedMs,
    },
    warnings: logger.warnings,
    errors: logger.errors,
    firstProblems: logger.first,
    timeline,
  };
}
