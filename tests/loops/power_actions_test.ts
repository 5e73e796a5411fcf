/**
 * Operators' power actions against Redfish BMC simulators and a real BMDB:
 * each is work (PowerAction) while the BMC carries it out, lands in history
 * with the actor and the ResetTypes sent, clears the agent's tags; "off"
 * holds the machine off (no loop touches it) until "on"; an action is
 * refused while other work holds the machine, and on a machine without a BMC
 * or of a provider without power control.
 *
 * @module
 */
import assert from "node:assert/strict";
import { HistoryEvent, Process, Provider, ProviderStatus } from "../../bmdb/mod.ts";
import { PowerActionRefusedError, PowerActions, Provisioner, TokenBucket } from "../../loops/mod.ts";
import { Registry } from "prom-client";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { startOwnedFleet } from "../harness/owned_fleet.ts";
import { quietLogger } from "../harness/quiet_logger.ts";

async function machineIds(t: TestBmdb): Promise<Record<string, string>> {
  const rows = await t.bmdb.read((q) => q.listMachines({ provider: Provider.Inventory, limit: 100 }));
  return Object.fromEntries(rows.map((m) => [m.providerId!, m.machineId]));
}

bmdbTest(
  "power off holds the machine off and power on releases it; each is work, in history with actor and ResetTypes",
  async (t) => {
    await using fleet = await startOwnedFleet(t.bmdb, {
      machines: [{ id: "n1", bmc: { gracefulHonoured: false } }, { id: "nobmc", bmc: false }],
      power: { gracefulTimeoutMs: 200 },
    });
    await new Provisioner(t.bmdb, fleet.provider, {
      maxDevices: 0,
      creationLimiter: new TokenBucket({ intervalMs: 1, burst: 1 }),
      registry: new Registry(),
      logger: quietLogger,
    }).pass();
    const ids = await machineIds(t);
    await t.sql(
      `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key) VALUES ($1, now(), '\\x01')`,
      [ids.n1],
    );
    const power = new PowerActions({ bmdb: t.bmdb, providers: [fleet.provider], logger: quietLogger });
    try {
      assert.match(await power.describe(ids.n1, "off"), /GracefulShutdown.*ForceOff/);

      const off = await power.request({ machineId: ids.n1, action: "off", actor: "admin:alice" });
      const during = await t.bmdb.read((q) => q.listWork({ limit: 10 }));
      assert.deepEqual(during.rows.map((w) => [w.machineId, w.process]), [[ids.n1, Process.PowerAction]]);
      // A second action while the first runs is refused, not sent twice.
      await assert.rejects(
        () => power.request({ machineId: ids.n1, action: "on", actor: "admin:bob" }),
        (e: Error) => e instanceof PowerActionRefusedError && e.status === 409,
      );
      const outcome = await off.done;
      assert.ok(!(outcome instanceof Error), String(outcome));
      // The OS ignored the graceful shutdown: forced after the timeout.
      assert.deepEqual(outcome.sent, ["GracefulShutdown", "ForceOff"]);
      assert.equal(fleet.bmcs.get("n1")!.systems[0].powerState, "Off");

      let m = (await t.bmdb.read((q) => q.getMachine({ machineId: ids.n1 })))!;
      assert.deepEqual([m.providerStatus, m.providerPowerState, m.providerHeldOffBy], [
        "Stopped",
        "Off",
        "admin:alice",
      ]);
      assert.equal(m.agentStartedAt, null, "the agent died with the power");
      assert.deepEqual(m.work, []);
      // Held off: the recoverer does not power it back on.
      assert.deepEqual(
        await t.bmdb.read((q) => q.getMachineForAgentRecovery({ provider: Provider.Inventory, limit: 5 })),
        [],
      );

      const on = await power.request({ machineId: ids.n1, action: "on", actor: "admin:bob" });
      const onOutcome = await on.done;
      assert.ok(!(onOutcome instanceof Error), String(onOutcome));
      assert.deepEqual(onOutcome.sent, ["On"]);
      m = (await t.bmdb.read((q) => q.getMachine({ machineId: ids.n1 })))!;
      assert.deepEqual([m.providerStatus, m.providerHeldOffBy], [ProviderStatus.Running, null]);

      const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId: ids.n1 }));
      const actions = history.filter((h) => h.actor !== null).map((h) => [h.event, h.actor, h.detail]);
      assert.deepEqual(actions, [
        [HistoryEvent.PoweredOff, "admin:alice", "sent GracefulShutdown, then ForceOff; PowerState Off"],
        [HistoryEvent.PoweredOn, "admin:bob", "sent On; PowerState On"],
      ]);
      assert.deepEqual(
        history.filter((h) => h.process === Process.PowerAction && h.actor === null).map((h) => h.event),
        ["Started", "Finished", "Started", "Finished"],
      );

      await assert.rejects(
        () => power.request({ machineId: ids.nobmc, action: "restart", actor: "admin" }),
        (e: Error) => e instanceof PowerActionRefusedError && e.status === 422 && /no BMC/.test(e.message),
      );
      await assert.rejects(
        () => power.request({ machineId: crypto.randomUUID(), action: "on", actor: "admin" }),
        (e: Error) => e instanceof PowerActionRefusedError && e.status === 404,
      );
    } finally {
      await power.close();
    }
  },
);

bmdbTest(
  "a power action is refused while shepherd work holds the machine, and a failed one is Failed with the BMC's cause",
  async (t) => {
    await using fleet = await startOwnedFleet(t.bmdb, { machines: [{ id: "n1" }] });
    await new Provisioner(t.bmdb, fleet.provider, {
      maxDevices: 0,
      creationLimiter: new TokenBucket({ intervalMs: 1, burst: 1 }),
      registry: new Registry(),
      logger: quietLogger,
    }).pass();
    const ids = await machineIds(t);
    const power = new PowerActions({ bmdb: t.bmdb, providers: [fleet.provider], logger: quietLogger });
    const session = await t.bmdb.startSession();
    try {
      const recovery = await session.work(Process.ShepherdRecovery, () => Promise.resolve([ids.n1]));
      await assert.rejects(
        () => power.request({ machineId: ids.n1, action: "restart", actor: "admin" }),
        (e: Error) => e instanceof PowerActionRefusedError && e.status === 409 && /being worked on/.test(e.message),
      );
      await recovery.cancel();

      await fleet.bmcs.get("n1")!.refuseConnections();
      const failing = await power.request({ machineId: ids.n1, action: "restart", actor: "admin:carol" });
      const outcome = await failing.done;
      assert.ok(outcome instanceof Error);
      const m = (await t.bmdb.read((q) => q.getMachine({ machineId: ids.n1 })))!;
      assert.equal(m.backoffs.length, 1);
      assert.match(m.backoffs[0].cause, /power restart requested by admin:carol failed: .*(refused|connect)/i);
    } finally {
      await session.close();
      await power.close();
    }
  },
);
