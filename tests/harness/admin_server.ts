/**
 * The admin server for tests: the real API, event stream and (optionally)
 * dashboard over a test BMDB, with its change feed, on a free loopback port.
 *
 * ```ts
 * await using server = await startAdminServer(t);
 * await fetch(`${server.url}/api/v1/work`, { headers: server.auth() });
 * ```
 *
 * @module
 */
import type { Hono } from "hono";
import { Registry } from "prom-client";
import type { PowerActions, ProvisionerStatus, ReservationView } from "../../loops/mod.ts";
import { MemoryValue } from "../../event/mod.ts";
import type { RecoveryTimeouts } from "../../bmdb/mod.ts";
import {
  type EventHub,
  type EventHubOptions,
  listen,
  openLiveFeed,
  type RunningServer,
  serverApp,
} from "../../server/mod.ts";
import type { TestBmdb } from "./bmdb.ts";
import { quietLogger } from "./quiet_logger.ts";

export interface AdminServer extends AsyncDisposable {
  url: string;
  adminToken: string;
  readonlyToken: string;
  hub: EventHub;
  /** Set these to drive the reservations and provisioner events. */
  reservations: MemoryValue<readonly ReservationView[]>;
  provisioner: MemoryValue<ProvisionerStatus | null>;
  registry: Registry;
  /** Headers for an API call with `token` (default: the admin token). */
  auth(token?: string): Record<string, string>;
  stop(): Promise<void>;
}

export async function startAdminServer(
  t: TestBmdb,
  options: {
    ui?: Hono;
    hub?: EventHubOptions;
    recoveryTimeouts?: RecoveryTimeouts;
    bulkLimit?: number;
    /** Operators' power actions (machines you own). */
    power?: PowerActions;
  } = {},
): Promise<AdminServer> {
  const reservations = new MemoryValue<readonly ReservationView[]>();
  reservations.set([]);
  const provisioner = new MemoryValue<ProvisionerStatus | null>();
  provisioner.set(null);
  const live = await openLiveFeed(t.bmdb, { reservations, provisioner, hub: options.hub, minRefreshIntervalMs: 20 });
  const hub = live.hub;
  const adminToken = `admin-${crypto.randomUUID()}`;
  const readonlyToken = `readonly-${crypto.randomUUID()}`;
  const registry = new Registry();
  const server: RunningServer = listen(
    serverApp({
      bmdb: t.bmdb,
      logger: quietLogger,
      registry,
      admin: {
        access: { adminToken, readonlyToken },
        hub,
        ui: options.ui,
        recoveryTimeouts: options.recoveryTimeouts,
        bulkLimit: options.bulkLimit,
        power: options.power,
      },
    }),
    { hostname: "127.0.0.1", port: 0 },
  );
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await live.close(); // before shutdown: it waits for open event streams
      await server.shutdown();
    })();
  return {
    url: server.url,
    adminToken,
    readonlyToken,
    hub,
    reservations,
    provisioner,
    registry,
    auth: (token = adminToken) => ({ authorization: `Bearer ${token}` }),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
