/**
 * The demo of machines you own (`--sim-owned-fleet N`): N simulated servers,
 * each behind its own Redfish BMC simulator in this process (one origin per
 * BMC, sessions, power transitions that take a second), listed in an
 * inventory made in memory, with simulated agents that run while their
 * system is powered. The same loops, Redfish client and power actions as on
 * real hardware; only the BMCs and the agents' hosts are simulated.
 *
 * @module
 */
import type { Inventory, InventoryMachine } from "../inventory/mod.ts";
import type { SimulatedHosts } from "../loops/mod.ts";
import { type BmcSimulator, type SimulatedSystem, startBmcSimulator } from "../redfish/simulator/mod.ts";

export interface OwnedFleetDemo {
  readonly inventory: Inventory;
  /** The simulated systems by machine id, for the simulated agent starter. */
  readonly hosts: SimulatedHosts;
  readonly bmcs: readonly BmcSimulator[];
  close(): Promise<void>;
}

const CREDENTIALS = "demo";

/**
 * Starts `count` BMC simulators and the inventory of their systems: ten
 * machines per rack; the third of each rack has a BMC without
 * GracefulRestart (as Dell's iDRAC 9), every eighth has no BMC at all.
 */
export async function startOwnedFleetDemo(count: number): Promise<OwnedFleetDemo> {
  const bmcs: BmcSimulator[] = [];
  const systems = new Map<string, SimulatedSystem>();
  const machines: InventoryMachine[] = [];
  const password = crypto.randomUUID();
  try {
    for (let i = 1; i <= count; i++) {
      const id = `demo-${String(i).padStart(3, "0")}`;
      const location = `demo-rack-${String(Math.ceil(i / 10)).padStart(2, "0")}`;
      const withBmc = i % 8 !== 0;
      let bmc: InventoryMachine["bmc"] = null;
      if (withBmc) {
        const sim = await startBmcSimulator({
          username: "admin",
          password,
          systems: [{
            transitionMs: 1000,
            ...(i % 10 === 3 ? { resetTypes: ["On", "ForceOff", "ForceRestart", "PowerCycle", "Nmi"] } : {}),
          }],
        });
        bmcs.push(sim);
        systems.set(id, sim.systems[0]);
        bmc = { url: sim.url, system: sim.systems[0].path, credentials: CREDENTIALS, tls: "insecure" };
      }
      machines.push({
        id,
        ssh: { user: "root", host: "127.0.0.1", port: 22 },
        location,
        hostKey: null,
        bmc,
        agentPath: null,
        line: i,
      });
    }
  } catch (error) {
    await Promise.allSettled(bmcs.map((b) => b.close()));
    throw error;
  }
  const byId = new Map(machines.map((m) => [m.id, m]));
  const inventory: Inventory = {
    path: "(simulated)",
    machines,
    machine: (id) => byId.get(id),
    credentials: (name) => name === CREDENTIALS ? { username: "admin", password } : undefined,
    loadedAt: new Date(),
  };
  // A machine without a BMC is a simulated server that is always on.
  const alwaysOn = {
    running: true,
    run: <T>(program: (signal: AbortSignal) => Promise<T>) => program(new AbortController().signal),
  };
  return {
    inventory,
    hosts: { machine: (providerId) => systems.get(providerId) ?? (byId.has(providerId) ? alwaysOn : undefined) },
    bmcs,
    close: async () => {
      await Promise.allSettled(bmcs.map((b) => b.close()));
    },
  };
}
