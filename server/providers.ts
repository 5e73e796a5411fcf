/**
 * The providers a {@linkcode Config} asks for, each with its agent starter,
 * for the control plane:
 *
 * - Equinix Metal at `EQUINIX_API_URL`; or, when no provider is configured at
 *   all, the Metal API simulator in-process (the embedded default);
 * - machines you own from `DROVER_INVENTORY` (watched: a change, or SIGHUP
 *   through `reload()`, reloads it; a bad reload keeps the last good
 *   inventory and is shown on the Overview), their BMCs over Redfish; or the
 *   demo's simulated owned fleet (`DROVER_SIM_OWNED_FLEET`).
 *
 * Everything started here is stopped by the teardown it is given.
 *
 * @module
 */
import type { Registry } from "prom-client";
import type { Bmdb, Logger } from "../bmdb/mod.ts";
import { EquinixClient } from "../equinix/mod.ts";
import { type Simulator, startSimulator } from "../equinix/simulator/mod.ts";
import { MemoryValue, type Value } from "../event/mod.ts";
import { type Inventory, InventoryWatcher } from "../inventory/mod.ts";
import {
  type AgentStarter,
  EquinixProvider,
  InventoryProvider,
  Nudge,
  type ProviderSetup,
  SimulatedAgentStarter,
  SimulatorAgentStarter,
  SshAgentStarter,
} from "../loops/mod.ts";
import { RedfishPool } from "../redfish/mod.ts";
import type { Config } from "./config.ts";
import { type InventoryStatus, inventoryStatus } from "./inventory_status.ts";
import { startOwnedFleetDemo } from "./owned_fleet_demo.ts";
import { DEMO_DESCRIPTION, demoDeviceProfile, startDemoFleet } from "./demo_fleet.ts";
import type { Teardown } from "./teardown.ts";

export interface Providers {
  readonly setups: ProviderSetup[];
  /** The Metal API client, when Equinix Metal (or its simulator) runs: the reservations publisher lists through it. */
  readonly equinix?: { client: EquinixClient; embedded: boolean };
  /** The inventory running now and its status for the dashboard, when machines you own run. */
  readonly inventory?: { current: () => Inventory; status: Value<InventoryStatus> };
  /** SIGHUP: re-reads the inventory file (a no-op without one). */
  reload(): Promise<void>;
}

interface Context {
  bmdb: Bmdb;
  /** The inventory file, when `DROVER_INVENTORY` is set ({@linkcode watchInventory}). */
  inventory?: WatchedInventory;
  registry: Registry;
  logger: Logger;
  teardown: Teardown;
  /** What runs where, for the start banner. */
  parts: Record<string, string>;
}

/** The SSH starter of DROVER_SSH_KEY and DROVER_AGENT_PATH, with per-machine targets and host keys where given. */
async function sshStarter(
  config: Config,
  perMachine?: Pick<InventoryProvider, "sshTarget" | "hostKeyPolicy">,
): Promise<SshAgentStarter | undefined> {
  if (!config.ssh) return undefined;
  return new SshAgentStarter({
    privateKey: await Deno.readFile(config.ssh.keyPath),
    agentPath: config.ssh.agentPath,
    ...(perMachine
      ? {
        target: (m) => perMachine.sshTarget(m),
        hostKeys: (m) => perMachine.hostKeyPolicy(m),
      }
      : {}),
  });
}

async function equinix(config: Config, ctx: Context): Promise<{ setup: ProviderSetup; client: EquinixClient }> {
  const { registry, logger, teardown, parts } = ctx;
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
    // Quicker than the simulator's default clock, so a newcomer sees the fleet come up in seconds;
    // or, the demo, on its own schedule of tens of seconds (demo_fleet.ts).
    sim = await startSimulator({
      reservations: config.simReservations,
      timing: { queuedMs: 100, provisioningMs: 600 },
      ...(config.demo ? { deviceProfile: demoDeviceProfile } : {}),
    });
    const started = sim;
    teardown.add("simulator", () => started.close());
    client = new EquinixClient({ baseUrl: sim.url, token: sim.token, projectId: sim.projectId, apiRate: 0, registry });
    parts.provider = `Metal API simulator in-process at ${sim.url} (${config.simReservations} reservations)`;
  }
  teardown.add("provider client", () => client.close());

  let starter: AgentStarter | undefined;
  if (config.ssh && config.equinix) {
    starter = await sshStarter(config);
    parts.agents = `started over SSH with ${config.ssh.keyPath}, uploading ${config.ssh.agentPath}`;
  } else if (config.simAgents && config.equinix) {
    starter = new SimulatorAgentStarter({ apiUrl: config.equinix.apiUrl, token: config.equinix.apiToken });
    parts.agents = `simulated, started through the simulator at ${new URL(config.equinix.apiUrl).origin}`;
  } else if (sim) {
    const simulated = new SimulatedAgentStarter({ fleet: sim.fleet, logger });
    teardown.add("simulated agents", () => simulated.close());
    starter = simulated;
    parts.agents = "simulated, in-process on the simulator's machines";
    if (config.demo) {
      const demo = startDemoFleet({ fleet: sim.fleet, agents: simulated, logger });
      teardown.add("demo schedule", () => demo.close());
      starter = demo.starter;
      parts.demo = DEMO_DESCRIPTION;
    }
  } else {
    parts.agents =
      "not started on Equinix machines: set DROVER_SSH_KEY and DROVER_AGENT_PATH, or DROVER_SIM_AGENTS (initializer and recoverer are off)";
  }
  const embedded = !config.equinix;
  return {
    client,
    setup: {
      provider: new EquinixProvider(client, { logger }),
      starter,
      // The simulator provisions in seconds: look again soon, so the fleet fills quickly.
      ...(embedded && config.provisionerIntervalMs === undefined ? { provisionerIntervalMs: 2000 } : {}),
      ...(embedded && config.updaterIntervalMs === undefined ? { updaterIntervalMs: 500 } : {}),
    },
  };
}

/** The Redfish pool every BMC is reached through. */
function redfishPool(config: Config, ctx: Context): RedfishPool {
  const pool = new RedfishPool({
    maxInFlight: config.bmc.concurrency,
    requestTimeoutMs: config.bmc.requestTimeoutMs,
    registry: ctx.registry,
  });
  ctx.teardown.add("BMC sessions", () => pool.close({ timeoutMs: 3000 }));
  return pool;
}

/** Warns once per BMC whose certificate is not checked. */
function warnInsecure(inventory: Inventory, logger: Logger, warned: Set<string>): void {
  for (const m of inventory.machines) {
    if (m.bmc?.tls !== "insecure" || warned.has(m.bmc.url)) continue;
    warned.add(m.bmc.url);
    logger.warn("BMC's TLS certificate is not checked (tls: insecure): anyone on the path can read its password", {
      providerId: m.id,
      bmc: m.bmc.url,
    });
  }
}

async function ownedMachines(
  config: Config,
  ctx: Context,
): Promise<
  { setup: ProviderSetup; current: () => Inventory; status: Value<InventoryStatus>; reload(): Promise<void> }
> {
  const { bmdb, logger, teardown, parts } = ctx;
  const power = { gracefulTimeoutMs: config.bmc.gracefulTimeoutMs };

  if (config.simOwnedFleet > 0) {
    const status = new MemoryValue<InventoryStatus>();
    const demo = await startOwnedFleetDemo(config.simOwnedFleet);
    teardown.add("BMC simulators", () => demo.close());
    const redfish = redfishPool(config, ctx);
    const provider = new InventoryProvider({
      inventory: () => demo.inventory,
      redfish,
      sweepConcurrency: config.bmc.concurrency,
      bmdb,
      logger,
      power: { ...power, pollIntervalMs: 500 },
    });
    const simulated = new SimulatedAgentStarter({ fleet: demo.hosts, logger });
    teardown.add("simulated agents of the owned fleet", () => simulated.close());
    status.set(inventoryStatus(demo.inventory, { simulated: true }));
    parts.inventory = `simulated owned fleet in-process: ${config.simOwnedFleet} machines, ` +
      `${demo.bmcs.length} Redfish BMC simulators, simulated agents`;
    return {
      setup: { provider, starter: simulated, provisionerIntervalMs: 2000, updaterIntervalMs: 2000 },
      current: () => demo.inventory,
      status,
      reload: () => Promise.resolve(),
    };
  }

  const { watcher, status, nudge } = ctx.inventory!;
  const where = config.inventory!;
  const redfish = redfishPool(config, ctx);
  const provider = new InventoryProvider({
    inventory: () => watcher.current,
    redfish,
    // As many BMC reads in flight as the pool allows (one per BMC, at most DROVER_BMC_CONCURRENCY in all).
    sweepConcurrency: config.bmc.concurrency,
    bmdb,
    logger,
    power,
  });
  const starter = await sshStarter(config, provider);
  parts.inventory = `${where.path}: ${watcher.current.machines.length} machines` +
    (where.credentialsPath ? `, BMC credentials from ${where.credentialsPath}` : "");
  parts.ownedAgents = starter
    ? `started over SSH with ${config.ssh!.keyPath}, uploading ${config.ssh!.agentPath}`
    : "not started on owned machines: set DROVER_SSH_KEY and DROVER_AGENT_PATH";
  return {
    setup: { provider, starter, nudge },
    current: () => watcher.current,
    status,
    reload: async () => {
      await watcher.reload();
    },
  };
}

/** The inventory file, watched: opened before anything else, so that its problems stop the start at once. */
export interface WatchedInventory {
  readonly watcher: InventoryWatcher;
  /** What the dashboard shows of it, the last reload's problem included. */
  readonly status: MemoryValue<InventoryStatus>;
  /** Nudged when a reload changed it: the provisioner and the updater pass at once. */
  readonly nudge: Nudge;
}

/**
 * Loads and watches `DROVER_INVENTORY` (and its credentials file).
 * @throws {InventoryError} listing every problem (file, line, column): then nothing may start.
 */
export async function watchInventory(
  where: NonNullable<Config["inventory"]>,
  logger: Logger,
): Promise<WatchedInventory> {
  const status = new MemoryValue<InventoryStatus>();
  const nudge = new Nudge();
  const warned = new Set<string>();
  const watcher = await InventoryWatcher.start({
    inventoryPath: where.path,
    credentialsPath: where.credentialsPath,
    onReload: (inventory) => {
      warnInsecure(inventory, logger, warned);
      status.set(inventoryStatus(inventory));
      logger.info("inventory reloaded", { path: where.path, machines: inventory.machines.length });
      nudge.nudge();
    },
    onProblem: (error) => {
      status.set(inventoryStatus(watcher.current, { problem: error, problemAt: new Date() }));
      logger.error("inventory reload failed: the last good inventory keeps running", { problems: error.message });
    },
  });
  warnInsecure(watcher.current, logger, warned);
  status.set(inventoryStatus(watcher.current));
  return { watcher, status, nudge };
}

/** Starts the providers `config` asks for (see the module comment). */
export async function startProviders(config: Config, ctx: Context): Promise<Providers> {
  const setups: ProviderSetup[] = [];
  const owned = config.inventory !== undefined || config.simOwnedFleet > 0;
  let metal: { client: EquinixClient; embedded: boolean } | undefined;
  if (config.equinix || !owned) {
    const { setup, client } = await equinix(config, ctx);
    setups.push(setup);
    metal = { client, embedded: !config.equinix };
  }
  let inventory: Awaited<ReturnType<typeof ownedMachines>> | undefined;
  if (owned) {
    inventory = await ownedMachines(config, ctx);
    setups.push(inventory.setup);
  }
  return {
    setups,
    equinix: metal,
    inventory: inventory && { current: inventory.current, status: inventory.status },
    reload: () => inventory?.reload() ?? Promise.resolve(),
  };
}
