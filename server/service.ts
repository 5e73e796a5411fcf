/**
 * The whole service, put together from a {@linkcode Config}: the BMDB, the
 * provider (the Metal API, or the simulator in-process), Event Values (etcd,
 * or in memory), the change feed and event hub, every control loop, and the
 * HTTP server with the agent API, the admin API and the dashboard.
 *
 * Each part is chosen on its own (DESIGN.md "Modes"): with nothing set it is
 * embedded (PGlite under the data dir, the simulator with simulated agents,
 * memory values, a generated admin token kept in the data dir).
 *
 * `stop()` shuts down in order: loops first (held work released as Canceled,
 * sessions closed), then the event streams and the HTTP server, the feed,
 * the agents and simulator, etcd and the database.
 *
 * @module
 */
import { Etcd3 } from "etcd3";
import type { Hono } from "hono";
import { Registry } from "prom-client";
import { type Bmdb, type Logger, openBmdb } from "../bmdb/mod.ts";
import { EquinixClient } from "../equinix/mod.ts";
import { type Simulator, startSimulator } from "../equinix/simulator/mod.ts";
import { MemoryValue, type Value } from "../event/mod.ts";
import {
  type AgentStarter,
  type ControlPlane,
  etcdReservationStore,
  followEtcdReservations,
  memoryReservationStore,
  type ReservationStore,
  type ReservationView,
  SimulatedAgentStarter,
  SimulatorAgentStarter,
  SshAgentStarter,
  startControlPlane,
  TokenBucket,
} from "../loops/mod.ts";
import type { Config } from "./config.ts";
import { claimDataDir, type DataDir } from "./data_dir.ts";
import { openLiveFeed } from "./live_feed.ts";
import { listen, type RunningServer } from "./listen.ts";
import { serverApp } from "./app.ts";

export interface Service {
  /** The server's base URL. */
  readonly url: string;
  /** The dashboard URL that logs in (it holds the admin token: print it, never log it). */
  readonly loginUrl: string;
  /** What runs where, for the start banner. */
  readonly parts: Record<string, string>;
  stop(): Promise<void>;
  /** During `stop()`: what has not stopped yet, e.g. "control loops (updater)", for a shutdown that runs out of time. */
  stopping(): string | undefined;
}

export interface ServiceOptions {
  logger: Logger;
  /** The dashboard's routes (a promise: the bundle is built while the database opens); without them `/` says the dashboard is not built. */
  ui?: Promise<Hono | undefined>;
}

/** Stops what has started, newest first, whatever fails. */
class Teardown {
  readonly #steps: { name: string; run: () => unknown }[] = [];
  /** The step running now, if any. */
  current: string | undefined;
  constructor(private readonly logger: Logger) {}

  add(name: string, run: () => unknown): void {
    this.#steps.push({ name, run });
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      const started = performance.now();
      this.current = step.name;
      try {
        await step.run();
        this.logger.debug("stopped", { step: step.name, ms: Math.round(performance.now() - started) });
      } catch (error) {
        this.logger.warn("shutdown step failed", { step: step.name, error });
      }
    }
    this.current = undefined;
  }
}

export async function startService(config: Config, options: ServiceOptions): Promise<Service> {
  const { logger } = options;
  const teardown = new Teardown(logger);
  const parts: Record<string, string> = {};
  try {
    // The data dir holds PGlite and the generated token: one Drover at a time. With
    // PostgreSQL, the database is reached first, so a bad DATABASE_URL touches nothing.
    let dataDir: DataDir | undefined;
    const claimDir = async () => {
      dataDir = await claimDataDir(config.dataDir);
      teardown.add("data dir lock", () => dataDir!.release());
      return dataDir;
    };
    if (!config.databaseUrl) await claimDir();
    const bmdb: Bmdb = await openBmdb({
      component: "drover",
      ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: `${config.dataDir}/pglite` }),
      logger,
    });
    teardown.add("database", () => bmdb.close());
    parts.database = bmdb.target;
    const adminToken = config.adminToken ?? await (dataDir ?? await claimDir()).adminToken();

    // One registry for everything /metrics shows: the provider client, the loops, the server.
    const registry = new Registry();
    let sim: Simulator | undefined;
    let client: EquinixClient;
    if (config.equinix) {
      client = new EquinixClient({
        baseUrl: config.equinix.apiUrl,
        token: config.equinix.apiToken,
        projectId: config.equinix.projectId,
        apiRate: config.equinix.apiRateMs,
        requestTimeoutMs: config.equinix.requestTimeoutMs,
        registry,
      });
      parts.provider = `Equinix Metal API at ${config.equinix.apiUrl}, project ${config.equinix.projectId}`;
    } else {
      // Quicker than the simulator's default clock, so a newcomer sees the fleet come up in seconds.
      sim = await startSimulator({
        reservations: config.simReservations,
        timing: { queuedMs: 100, provisioningMs: 600 },
      });
      teardown.add("simulator", () => sim!.close());
      client = new EquinixClient({
        baseUrl: sim.url,
        token: sim.token,
        projectId: sim.projectId,
        apiRate: 0,
        registry,
      });
      parts.provider = `Metal API simulator in-process at ${sim.url} (${config.simReservations} reservations)`;
    }
    teardown.add("provider client", () => client.close());

    const stopping = new AbortController();
    let reservationStore: ReservationStore;
    let reservations: Value<readonly ReservationView[]>;
    if (config.etcdEndpoints) {
      // A deadline on every unary call: after an etcd restart or partition a call must fail
      // (and be retried at the next pass), not hang a loop and with it the shutdown.
      const etcd = new Etcd3({
        hosts: config.etcdEndpoints,
        defaultCallOptions: (context) => context.isStream ? {} : { deadline: Date.now() + 5000 },
      });
      teardown.add("etcd", () => etcd.close());
      teardown.add("etcd watchers", () => stopping.abort());
      reservationStore = etcdReservationStore(etcd);
      reservations = followEtcdReservations(etcd, stopping.signal);
      parts.eventValues = `etcd at ${config.etcdEndpoints.join(", ")}`;
    } else {
      const memory = new MemoryValue<readonly ReservationView[]>();
      memory.set([]);
      reservationStore = memoryReservationStore(memory);
      reservations = memory;
      parts.eventValues = "in memory";
    }

    let starter: (AgentStarter & { close?(): Promise<void> }) | undefined;
    if (config.ssh) {
      starter = new SshAgentStarter({
        privateKey: await Deno.readFile(config.ssh.keyPath),
        agentPath: config.ssh.agentPath,
      });
      parts.agents = `started over SSH with ${config.ssh.keyPath}, uploading ${config.ssh.agentPath}`;
    } else if (config.simAgents && config.equinix) {
      starter = new SimulatorAgentStarter({ apiUrl: config.equinix.apiUrl, token: config.equinix.apiToken });
      parts.agents = `simulated, started through the simulator at ${new URL(config.equinix.apiUrl).origin}`;
    } else if (sim) {
      const simulated = new SimulatedAgentStarter({ fleet: sim.fleet, logger });
      teardown.add("simulated agents", () => simulated.close());
      starter = simulated;
      parts.agents = "simulated, in-process on the simulator's machines";
    } else {
      parts.agents =
        "not started: set DROVER_SSH_KEY and DROVER_AGENT_PATH, or DROVER_SIM_AGENTS (initializer and recoverer are off)";
    }

    const embedded = !config.equinix;
    const plane: ControlPlane = startControlPlane({
      bmdb,
      client,
      starter,
      agentUrl: config.agentUrl,
      registry,
      logger,
      dbLimiter: new TokenBucket(config.dbRate),
      provisioner: {
        maxDevices: config.maxDevices,
        creationLimiter: new TokenBucket(config.deviceCreationRate),
        // The simulator provisions in seconds: look again soon, so the fleet fills quickly.
        intervalMs: config.provisionerIntervalMs ?? (embedded ? 2000 : 30_000),
        ...(embedded ? { chunkSize: 8 } : {}),
      },
      updater: { intervalMs: config.updaterIntervalMs ?? (embedded ? 500 : 60_000) },
      initializer: {
        parallelism: config.initializerParallelism,
        heartbeatIntervalSeconds: config.agentHeartbeatIntervalSeconds,
        ...(embedded ? { idleWaitMs: 250, maxIdleWaitMs: 500 } : {}),
      },
      recoverer: { parallelism: config.recovererParallelism, timeouts: config.recoveryTimeouts },
      janitor: { sessionGraceSeconds: config.janitorGraceSeconds, intervalMs: config.janitorIntervalMs },
      reservations: { store: reservationStore, ...(embedded ? { intervalMs: 5000 } : {}) },
    });

    teardown.add("control loops", () => plane.stop()); // here, so that a failure below stops them too

    const live = await openLiveFeed(bmdb, { reservations, provisioner: plane.provisioner.status });
    const ui = await options.ui;
    parts.dashboard = ui ? "served at /" : "not built (see the log)";
    const server: RunningServer = listen(
      serverApp({
        bmdb,
        logger,
        registry,
        admin: {
          access: { adminToken, readonlyToken: config.readonlyToken },
          hub: live.hub,
          ui,
          recoveryTimeouts: config.recoveryTimeouts,
        },
      }),
      config.listen,
    );
    teardown.add("HTTP server", () => server.shutdown());
    // Before the HTTP server: its shutdown waits for open event streams.
    teardown.add("event streams and change feed", () => live.close());

    let stopped: Promise<void> | undefined;
    return {
      url: server.url,
      loginUrl: `${server.url}/?token=${encodeURIComponent(adminToken)}`,
      parts,
      // The loops first (they stop claiming and release held work), then the rest, newest first.
      stop: () =>
        stopped ??= (async () => {
          await plane.stop();
          await teardown.run();
        })(),
      stopping: () => {
        const loops = plane.running();
        if (loops.length > 0) return `control loops (${loops.join(", ")})`;
        return teardown.current;
      },
    };
  } catch (error) {
    await teardown.run();
    throw error;
  }
}
