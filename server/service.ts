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
import type { Hono } from "hono";
import { Registry } from "prom-client";
import type { Bmdb, Logger } from "../bmdb/mod.ts";
import { connectEtcd, MemoryValue, type Value } from "../event/mod.ts";
import {
  type ControlPlane,
  etcdReservationStore,
  followEtcdReservations,
  memoryReservationStore,
  PowerActions,
  type ReservationStore,
  type ReservationView,
  startControlPlane,
  TokenBucket,
} from "../loops/mod.ts";
import type { Config } from "./config.ts";
import { claimDataDir, type DataDir } from "./data_dir.ts";
import { openLiveFeed } from "./live_feed.ts";
import { listen, type RunningServer } from "./listen.ts";
import { serverApp } from "./app.ts";
import { startProviders, watchInventory } from "./providers.ts";
import { DEMO_DESCRIPTION } from "./demo_fleet.ts";
import { Teardown } from "./teardown.ts";
import { openDatabase } from "./database_start.ts";
import { startingApp } from "./starting_app.ts";

export interface Service {
  /** The server's base URL. */
  readonly url: string;
  /** The dashboard URL that logs in (it holds the admin token: print it, never log it). */
  readonly loginUrl: string;
  /** What runs where, for the start banner. */
  readonly parts: Record<string, string>;
  /** The demo fleet runs (the banner line says so). */
  readonly demo: boolean;
  /** SIGHUP: re-reads the inventory file (its problems are logged and shown; the last good one keeps running). */
  reload(): Promise<void>;
  stop(): Promise<void>;
  /** During `stop()`: what has not stopped yet, e.g. "control loops (updater)", for a shutdown that runs out of time. */
  stopping(): string | undefined;
}

export interface ServiceOptions {
  logger: Logger;
  /** The dashboard's routes (a promise: the bundle is built while the database opens); without them `/` says the dashboard is not built. */
  ui?: Promise<Hono | undefined>;
}

export async function startService(config: Config, options: ServiceOptions): Promise<Service> {
  const { logger } = options;
  const teardown = new Teardown(logger);
  const parts: Record<string, string> = {};
  try {
    // An inventory with problems stops the start before anything is touched.
    const inventory = config.inventory && await watchInventory(config.inventory, logger);
    if (inventory) teardown.add("inventory watcher", () => inventory.watcher.close());
    // The server answers from here on: /readyz says what the start is waiting for.
    let startStatus = "starting";
    const server: RunningServer = listen(startingApp(() => startStatus), config.listen);
    teardown.add("HTTP server (start-up)", () => server.shutdown()); // a no-op once "HTTP server" below ran
    // The data dir holds PGlite and the generated token: one Drover at a time. With
    // PostgreSQL, the database is reached first, so a bad DATABASE_URL touches nothing.
    let dataDir: DataDir | undefined;
    const claimDir = async () => {
      dataDir = await claimDataDir(config.dataDir);
      teardown.add("data dir lock", () => dataDir!.release());
      return dataDir;
    };
    if (!config.databaseUrl) await claimDir();
    const bmdb: Bmdb = await openDatabase({
      databaseUrl: config.databaseUrl,
      pgliteDir: `${config.dataDir}/pglite`,
      maxWaitMs: config.databaseWaitMs,
      logger,
      setStatus: (status) => void (startStatus = status),
    });
    teardown.add("database", () => bmdb.close());
    parts.database = bmdb.target;
    const adminToken = config.adminToken ?? await (dataDir ?? await claimDir()).adminToken();

    // One registry for everything /metrics shows: the provider clients, the loops, the server.
    const registry = new Registry();
    const providers = await startProviders(config, { bmdb, inventory, registry, logger, teardown, parts });

    const stopping = new AbortController();
    let reservationStore: ReservationStore;
    let reservations: Value<readonly ReservationView[]>;
    if (config.etcdEndpoints) {
      // Every member, a 2 s deadline per attempt and retries on the next member: losing one member,
      // the leader included, delays calls by a few seconds and fails none (event/etcd_client.ts).
      const etcd = connectEtcd(config.etcdEndpoints);
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

    // No real provider: the in-process simulators, on a quicker clock so a newcomer sees the fleet move.
    const embedded = !config.equinix && !config.inventory;
    // The demo's agents go quiet on purpose: their recovery shows within a minute, not ten.
    const recoveryTimeouts = config.demo && config.heartbeatTimeoutDefaulted
      ? { ...config.recoveryTimeouts, heartbeatTimeoutSeconds: 30 }
      : config.recoveryTimeouts;
    const plane: ControlPlane = startControlPlane({
      bmdb,
      providers: providers.setups,
      agentUrl: config.agentUrl,
      registry,
      logger,
      dbLimiter: new TokenBucket(config.dbRate),
      provisioner: {
        maxDevices: config.maxDevices,
        creationLimiter: new TokenBucket(config.deviceCreationRate),
        intervalMs: config.provisionerIntervalMs ?? 30_000,
        ...(embedded ? { chunkSize: 8 } : {}),
      },
      updater: { intervalMs: config.updaterIntervalMs ?? 60_000 },
      initializer: {
        parallelism: config.initializerParallelism,
        heartbeatIntervalSeconds: config.agentHeartbeatIntervalSeconds,
        ...(embedded ? { idleWaitMs: 250, maxIdleWaitMs: 500 } : {}),
      },
      recoverer: { parallelism: config.recovererParallelism, timeouts: recoveryTimeouts },
      janitor: { sessionGraceSeconds: config.janitorGraceSeconds, intervalMs: config.janitorIntervalMs },
      ...(providers.equinix
        ? {
          reservations: {
            store: reservationStore,
            client: providers.equinix.client,
            ...(providers.equinix.embedded ? { intervalMs: 5000 } : {}),
          },
        }
        : {}),
    });

    teardown.add("control loops", () => plane.stop()); // here, so that a failure below stops them too
    const power = new PowerActions({ bmdb, providers: providers.setups.map((s) => s.provider), logger });
    teardown.add("power actions", () => power.close());

    const live = await openLiveFeed(bmdb, {
      reservations,
      provisioner: plane.provisioner.status,
      ...(providers.inventory ? { inventory: providers.inventory.status } : {}),
    });
    const ui = await options.ui;
    parts.dashboard = ui ? "served at /" : "not built (see the log)";
    server.serve(
      serverApp({
        bmdb,
        logger,
        registry,
        admin: {
          access: { adminToken, readonlyToken: config.readonlyToken },
          hub: live.hub,
          ui,
          recoveryTimeouts,
          demo: config.demo ? DEMO_DESCRIPTION : undefined,
          power,
        },
      }),
    );
    teardown.add("HTTP server", () => server.shutdown());
    // Before the HTTP server: its shutdown waits for open event streams.
    teardown.add("event streams and change feed", () => live.close());

    let stopped: Promise<void> | undefined;
    return {
      url: server.url,
      loginUrl: `${server.url}/?token=${encodeURIComponent(adminToken)}`,
      parts,
      demo: config.demo,
      reload: () => providers.reload(),
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
