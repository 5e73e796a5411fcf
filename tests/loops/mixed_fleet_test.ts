/**
 * One Drover, two providers: the control plane runs Equinix Metal's loops
 * (on the checked simulator) and an inventory's (on Redfish BMC simulators)
 * side by side; every machine of both gets an agent and heartbeats, each
 * machine row says which provider it belongs to, and each provider's loops
 * touch only its own machines.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Provider } from "../../bmdb/mod.ts";
import {
  EquinixProvider,
  SimulatedAgentStarter,
  type SimulatedHosts,
  startControlPlane,
  TokenBucket,
} from "../../loops/mod.ts";
import { listen, serverApp } from "../../server/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";
import { startOwnedFleet } from "../harness/owned_fleet.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { simulatorClient, startCheckedSimulator } from "../harness/simulator.ts";
import { waitFor } from "../harness/wait.ts";

bmdbTest(
  "Equinix Metal and an inventory in one control plane: every machine heartbeats, each under its provider",
  async (t) => {
    await using sim = await startCheckedSimulator({
      reservations: 2,
      timing: { queuedMs: 20, provisioningMs: 100, rebootMs: 100, deprovisionMs: 20 },
    });
    const client = simulatorClient(sim, { requestTimeoutMs: 2000 });
    await using owned = await startOwnedFleet(t.bmdb, { machines: [{ id: "n1" }, { id: "n2" }] });
    await using server = listen(serverApp({ bmdb: t.bmdb, logger: quietLogger, registry: new Registry() }), {
      hostname: "127.0.0.1",
      port: 0,
    });
    const metalAgents = new SimulatedAgentStarter({ fleet: sim.fleet, logger: quietLogger, retryMs: 100 });
    const ownedHosts: SimulatedHosts = { machine: (id) => owned.bmcs.get(id)?.systems[0] };
    const ownedAgents = new SimulatedAgentStarter({ fleet: ownedHosts, logger: quietLogger, retryMs: 100 });
    const registry = new Registry();
    const fast = { idleWaitMs: 50, parallelism: 1 };
    const plane = startControlPlane({
      bmdb: t.bmdb,
      providers: [
        { provider: new EquinixProvider(client), starter: metalAgents },
        { provider: owned.provider, starter: ownedAgents },
      ],
      agentUrl: server.url,
      registry,
      logger: quietLogger,
      dbLimiter: new TokenBucket({ intervalMs: 5, burst: 8 }),
      provisioner: { maxDevices: 2, intervalMs: 100, creationLimiter: new TokenBucket({ intervalMs: 1, burst: 10 }) },
      updater: { intervalMs: 100 },
      initializer: { ...fast, heartbeatIntervalSeconds: 1 },
      recoverer: fast,
    });
    try {
      const rows = await waitFor(async () => {
        const all = await t.bmdb.read((q) => q.listMachines({ limit: 10 }));
        return all.length === 4 && all.every((m) => m.agentHeartbeatAt !== null) && all;
      }, { timeoutMs: 20_000, what: "four machines heartbeating" });
      const byProvider = (p: Provider) => rows.filter((m) => m.provider === p).map((m) => m.providerId).sort();
      assert.equal(byProvider(Provider.Equinix).length, 2);
      assert.deepEqual(byProvider(Provider.Inventory), ["n1", "n2"]);
      assert.deepEqual(plane.running().sort(), [
        "initializer",
        "initializer-inventory",
        "janitor",
        "provisioner",
        "provisioner-inventory",
        "recoverer",
        "recoverer-inventory",
        "updater",
        "updater-inventory",
      ]);
      assert.equal(plane.provisioner.provider.provider, Provider.Equinix, "the halt banner is the creating provider's");
      // Each initializer started agents on its own provider's machines only.
      assert.deepEqual(ownedAgents.running.length, 2);
      assert.deepEqual(metalAgents.running.length, 2);
    } finally {
      await plane.stop();
      await metalAgents.close();
      await ownedAgents.close();
      client.close();
    }
  },
);
