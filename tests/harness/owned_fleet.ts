/**
 * Machines you own, for tests: an inventory held in memory (replaceable, as a
 * reload replaces the file's) whose machines have BMCs on Redfish simulators,
 * and the InventoryProvider over them with quick power timings.
 *
 * ```ts
 * await using fleet = await startOwnedFleet(t.bmdb, { machines: [{ id: "n1" }, { id: "n2", bmc: false }] });
 * fleet.set([...]); // a reload
 * ```
 *
 * @module
 */
import type { Bmdb } from "../../bmdb/mod.ts";
import type { Inventory, InventoryMachine } from "../../inventory/mod.ts";
import { InventoryProvider } from "../../loops/mod.ts";
import { RedfishPool } from "../../redfish/mod.ts";
import { type BmcSimulator, type SimulatedSystemOptions, startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { quietLogger } from "./quiet_logger.ts";

export interface OwnedMachineSpec {
  id: string;
  location?: string;
  /** false: no BMC. @default a BMC of its own */
  bmc?: false | Omit<SimulatedSystemOptions, "id">;
  ssh?: { user: string; host: string; port: number };
  hostKey?: string;
  agentPath?: string;
}

export interface OwnedFleet extends AsyncDisposable {
  readonly provider: InventoryProvider;
  readonly pool: RedfishPool;
  /** The BMC of each machine that has one, by machine id. */
  readonly bmcs: ReadonlyMap<string, BmcSimulator>;
  /** The inventory now. */
  inventory(): Inventory;
  /** Replaces the inventory's machines (a reload): specs of machines already started keep their BMC. */
  set(machines: readonly OwnedMachineSpec[]): Promise<void>;
}

const CREDENTIALS = { username: "admin", password: "test-password" };

export function memoryInventory(machines: readonly InventoryMachine[]): Inventory {
  const byId = new Map(machines.map((m) => [m.id, m]));
  return {
    path: "(test)",
    machines,
    machine: (id) => byId.get(id),
    credentials: (name) => name === "test" ? CREDENTIALS : undefined,
    loadedAt: new Date(),
  };
}

/** Starts one BMC simulator per machine with a BMC, and the provider over an inventory of them. */
export async function startOwnedFleet(
  bmdb: Bmdb,
  options: { machines: readonly OwnedMachineSpec[]; power?: { gracefulTimeoutMs?: number } },
): Promise<OwnedFleet> {
  const bmcs = new Map<string, BmcSimulator>();
  let current = memoryInventory([]);
  const pool = new RedfishPool({ requestTimeoutMs: 2000, retry: { attempts: 2, initialDelayMs: 10, maxDelayMs: 50 } });
  const set = async (specs: readonly OwnedMachineSpec[]) => {
    const machines: InventoryMachine[] = [];
    for (const [i, spec] of specs.entries()) {
      let bmc: InventoryMachine["bmc"] = null;
      if (spec.bmc !== false) {
        let sim = bmcs.get(spec.id);
        if (!sim) {
          sim = await startBmcSimulator({ ...CREDENTIALS, systems: [{ transitionMs: 50, ...spec.bmc }] });
          bmcs.set(spec.id, sim);
        }
        bmc = { url: sim.url, system: sim.systems[0].path, credentials: "test", tls: "insecure" };
      }
      machines.push({
        id: spec.id,
        ssh: spec.ssh ?? { user: "root", host: "127.0.0.1", port: 22 },
        location: spec.location ?? "test-rack",
        hostKey: spec.hostKey ?? null,
        bmc,
        agentPath: spec.agentPath ?? null,
        line: i + 2,
      });
    }
    current = memoryInventory(machines);
  };
  try {
    await set(options.machines);
  } catch (error) {
    await Promise.allSettled([...bmcs.values()].map((b) => b.close()));
    throw error;
  }
  const provider = new InventoryProvider({
    inventory: () => current,
    redfish: pool,
    bmdb,
    logger: quietLogger,
    pageMs: 50,
    power: { pollIntervalMs: 20, gracefulTimeoutMs: options.power?.gracefulTimeoutMs ?? 500, settleTimeoutMs: 5000 },
  });
  return {
    provider,
    pool,
    bmcs,
    inventory: () => current,
    set,
    async [Symbol.asyncDispose]() {
      await pool.close({ timeoutMs: 1000 });
      await Promise.allSettled([...bmcs.values()].map((b) => b.close()));
    },
  };
}
