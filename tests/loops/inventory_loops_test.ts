/**
 * The loops on machines you own, against Redfish BMC simulators and a real
 * BMDB: the provisioner adopts every inventory machine once, marks a removed
 * one Missing and finds it again with its history; the updater reads each
 * BMC (On Running, Off Stopped, an unreachable BMC Unknown with the cause, no
 * BMC Running); the recoverer powers on a machine powered off behind
 * Drover's back and restarts a quiet one, and fails one without a BMC with a
 * cause that says an operator must act.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Process, Provider, ProviderStatus } from "../../bmdb/mod.ts";
import { loopMetrics, LoopRunner, Provisioner, Recoverer, TokenBucket, Updater } from "../../loops/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { type OwnedFleet, startOwnedFleet } from "../harness/owned_fleet.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { waitFor, within } from "../harness/wait.ts";

function loops(t: TestBmdb, fleet: OwnedFleet) {
  const registry = new Registry();
  return {
    provisioner: new Provisioner(t.bmdb, fleet.provider, {
      maxDevices: 0,
      creationLimiter: new TokenBucket({ intervalMs: 1, burst: 1 }),
      registry,
      logger: quietLogger,
    }),
    updater: new Updater(t.bmdb, fleet.provider, { registry, logger: quietLogger }),
    registry,
  };
}

async function rows(t: TestBmdb) {
  const machines = await t.bmdb.read((q) => q.listMachines({ provider: Provider.Inventory, limit: 100 }));
  return Object.fromEntries(machines.map((m) => [m.providerId, m]));
}

bmdbTest(
  "every inventory machine is adopted once; a removed one is Missing and, put back, found with its history",
  async (t) => {
    await using fleet = await startOwnedFleet(t.bmdb, {
      machines: [{ id: "n1", location: "ams1-r04" }, { id: "n2" }, { id: "n3", bmc: false }],
    });
    const { provisioner, updater } = loops(t, fleet);
    assert.deepEqual(await provisioner.pass(), { adopted: 3, created: 0, halted: false, missing: 0 });
    assert.deepEqual(await provisioner.pass(), { adopted: 0, created: 0, halted: false, missing: 0 });
    let m = await rows(t);
    assert.equal(m.n1.providerStatus, ProviderStatus.Unknown, "not read from its BMC yet");
    assert.equal(m.n1.providerLocation, "ams1-r04");
    assert.equal(m.n3.providerStatus, ProviderStatus.Running, "no BMC: taken to be running");
    assert.equal(m.n3.providerBmc, null);
    const n2 = m.n2.machineId;
    await t.bmdb.retryMachine({ machineId: n2, actor: "admin:test" }); // something in its history

    await fleet.set([{ id: "n1", location: "ams1-r04" }, { id: "n3", bmc: false }]);
    assert.deepEqual(await provisioner.pass(), { adopted: 0, created: 0, halted: false, missing: 1 });
    m = await rows(t);
    assert.equal(m.n2.providerStatus, ProviderStatus.Missing);
    assert.equal((await provisioner.status.watch().get()).halted, false, "an inventory never halts");

    await fleet.set([{ id: "n1", location: "ams1-r05" }, { id: "n2" }, { id: "n3", bmc: false }]);
    assert.deepEqual(await provisioner.pass(), { adopted: 0, created: 0, halted: false, missing: 0 });
    const sweep = await updater.pass();
    assert.equal(sweep.devices, 3);
    m = await rows(t);
    assert.equal(m.n2.machineId, n2, "the same machine");
    assert.equal(m.n2.providerStatus, ProviderStatus.Running, "its BMC says On");
    assert.equal(m.n1.providerLocation, "ams1-r05", "a changed location is written");
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId: n2 }));
    assert.deepEqual(history.map((h) => h.event), ["Retried"]);
  },
);

bmdbTest("the updater reads each BMC: On is Running, Off Stopped, unreachable Unknown with the cause", async (t) => {
  await using fleet = await startOwnedFleet(t.bmdb, {
    machines: [{ id: "on" }, { id: "off", bmc: { powerState: "Off" } }, { id: "dark" }],
  });
  const { provisioner, updater } = loops(t, fleet);
  await provisioner.pass();
  await fleet.bmcs.get("dark")!.refuseConnections();
  fleet.bmcs.get("on")!.systems[0].health = "Warning";
  const sweep = await updater.pass();
  assert.deepEqual([sweep.devices, sweep.written], [3, 3]);
  const m = await rows(t);
  assert.deepEqual([m.on.providerStatus, m.on.providerPowerState, m.on.providerHealth], ["Running", "On", "Warning"]);
  assert.deepEqual([m.off.providerStatus, m.off.providerPowerState], ["Stopped", "Off"]);
  assert.equal(m.dark.providerStatus, ProviderStatus.Unknown);
  assert.match(m.dark.providerStatusCause ?? "", /could not be read: .*(refused|connect)/i);

  await fleet.bmcs.get("dark")!.resume();
  assert.equal((await updater.pass()).written, 1, "only the machine that changed is written");
  assert.equal((await rows(t)).dark.providerStatusCause, null, "the cause is cleared once the BMC answers");
});

bmdbTest(
  "the recoverer powers on a machine powered off behind Drover's back, restarts a quiet one, and fails one without a BMC",
  async (t) => {
    await using fleet = await startOwnedFleet(t.bmdb, {
      machines: [
        { id: "pulled" },
        { id: "quiet", bmc: { resetTypes: ["On", "ForceOff", "ForceRestart", "PowerCycle"] } },
        { id: "nobmc", bmc: false },
      ],
    });
    const { provisioner, updater, registry } = loops(t, fleet);
    await provisioner.pass();
    const m = await rows(t);
    // "quiet" and "nobmc" had agents that stopped reporting an hour ago.
    for (const id of [m.quiet.machineId, m.nobmc.machineId]) {
      await t.sql(
        `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key) VALUES ($1, now() - interval '2 hours', '\\x01')`,
        [id],
      );
    }
    fleet.bmcs.get("pulled")!.systems[0].setPower("Off");
    await updater.pass();
    assert.equal((await rows(t)).pulled.providerStatus, ProviderStatus.Stopped);

    const runner = new LoopRunner(
      t.bmdb,
      new Recoverer({
        provider: fleet.provider,
        name: "recoverer-inventory",
        timeouts: { startTimeoutSeconds: 60, heartbeatTimeoutSeconds: 60 },
        backoff: { initialSeconds: 600, maximumSeconds: 600, exponent: 2 },
      }),
      {
        limiter: new TokenBucket({ intervalMs: 1, burst: 10 }),
        idleWaitMs: 50,
        sessionIntervalSeconds: 2,
        metrics: loopMetrics(registry),
        logger: quietLogger,
      },
    );
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    try {
      const settled = await waitFor(async () => {
        const now = await rows(t);
        const done = now.pulled.providerPowerState === "On" && now.quiet.agentStartedAt === null &&
          now.nobmc.backoffs.length === 1;
        return done && now;
      }, { timeoutMs: 15_000, what: "every machine recovered or failed" });
      assert.equal(settled.pulled.providerStatus, ProviderStatus.Running, "recorded at once, not at the next sweep");
      assert.equal(fleet.bmcs.get("pulled")!.systems[0].powerState, "On");
      assert.deepEqual(fleet.bmcs.get("pulled")!.systems[0].resets.map((r) => r.resetType), ["On"]);
      // No GracefulRestart allowed: forced at once, one reset only.
      assert.equal(fleet.bmcs.get("quiet")!.systems[0].resets.length, 1);
      assert.notEqual(fleet.bmcs.get("quiet")!.systems[0].resets[0].resetType, "GracefulRestart");
      const cause = settled.nobmc.backoffs[0].cause;
      assert.match(cause, /has no BMC in the inventory: Drover cannot power it or restart it/);
      assert.equal(settled.nobmc.backoffs[0].process, Process.ShepherdRecovery);
    } finally {
      stop.abort(new Error("test over"));
      await within(running, 5000, "the runner's shutdown");
    }
  },
);
