/**
 * The recoverer against the checked simulator and a real BMDB: a machine
 * whose agent never reported is rebooted once (also when the reboot's reply
 * is lost and the retry meets the reboot under way) and its agent tags are
 * cleared; a device that cannot be rebooted fails the work with the API's
 * reason and a backoff, and the tags stay.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Process, Provider } from "../../bmdb/mod.ts";
import { EquinixProvider, loopMetrics, LoopRunner, Provisioner, Recoverer, TokenBucket } from "../../loops/mod.ts";
import { bmdbTest, countRows, type TestBmdb } from "../harness/bmdb.ts";
import { type CheckedSimulator, simulatorClient, startCheckedSimulator } from "../harness/simulator.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { waitFor, within } from "../harness/wait.ts";

interface Fixture extends AsyncDisposable {
  sim: CheckedSimulator;
  machineId: string;
  deviceId: string;
  /** Runs the recoverer (one worker) until the returned stop. */
  runRecoverer(): { stop(): Promise<void> };
}

/** One active device and its machine, whose agent was started an hour ago and never reported. */
async function fixture(t: TestBmdb): Promise<Fixture> {
  const sim = await startCheckedSimulator({
    reservations: 1,
    timing: { queuedMs: 10, provisioningMs: 50, rebootMs: 800, deprovisionMs: 10 },
  });
  const client = simulatorClient(sim, { requestTimeoutMs: 300 });
  const registry = new Registry();
  await new Provisioner(t.bmdb, new EquinixProvider(client), {
    maxDevices: 1,
    creationLimiter: new TokenBucket({ intervalMs: 1, burst: 1 }),
    registry,
    logger: quietLogger,
  }).pass();
  const [device] = sim.fleet.devices();
  await sim.fleet.waitForState(device.id, "active");
  const [machine] = await t.bmdb.read((q) => q.getProvidedMachines({ provider: Provider.Equinix }));
  await t.sql(
    `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
     VALUES ($1, now() - interval '1 hour', '\\x01')`,
    [machine.machineId],
  );
  return {
    sim,
    machineId: machine.machineId,
    deviceId: device.id,
    runRecoverer() {
      const runner = new LoopRunner(
        t.bmdb,
        new Recoverer({
          provider: new EquinixProvider(client, { pollIntervalMs: 20 }),
          timeouts: { startTimeoutSeconds: 60, heartbeatTimeoutSeconds: 60 },
          backoff: { initialSeconds: 600, maximumSeconds: 600, exponent: 2 },
        }),
        {
          limiter: new TokenBucket({ intervalMs: 1, burst: 10 }),
          idleWaitMs: 50,
          sessionIntervalSeconds: 1,
          metrics: loopMetrics(registry),
          logger: quietLogger,
        },
      );
      const controller = new AbortController();
      const done = runner.run(controller.signal);
      return {
        async stop() {
          controller.abort(new Error("test over"));
          await within(done, 5000, "the runner's shutdown");
        },
      };
    },
    async [Symbol.asyncDispose]() {
      client.close();
      await sim.close();
    },
  };
}

async function recoveryEvents(t: TestBmdb, machineId: string): Promise<string[]> {
  const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
  return history.filter((h) => h.process === Process.ShepherdRecovery).map((h) => h.event);
}

bmdbTest(
  "a quiet agent's machine is rebooted once, even when the reboot's reply is lost, and its agent cleared",
  async (t) => {
    await using f = await fixture(t);
    // The reboot is carried out but its reply never comes: the client's retry
    // meets the device rebooting (422), which counts as our reboot under way.
    f.sim.faults.loseNextReply("performAction");
    const recoverer = f.runRecoverer();
    try {
      await waitFor(async () => (await recoveryEvents(t, f.machineId)).includes("Finished"), {
        timeoutMs: 15_000,
        what: "the recovery finished",
      });
    } finally {
      await recoverer.stop();
    }
    assert.deepEqual(await recoveryEvents(t, f.machineId), ["Started", "Finished"]);
    assert.equal(f.sim.fleet.machine(f.deviceId)!.boots, 2, "booted at provisioning and once by the reboot");
    assert.equal(f.sim.fleet.device(f.deviceId)!.state, "active");
    assert.equal(f.sim.stats.byOperation.performAction, 2, "the reboot and its retry");
    assert.equal(
      await countRows(t, "SELECT count(*) FROM machine_agent_started"),
      0,
      "the initializer may start again",
    );
  },
);

bmdbTest("a device that cannot be rebooted fails the recovery with the API's reason and a backoff", async (t) => {
  await using f = await fixture(t);
  // Powered off behind Drover's back: the API refuses to reboot it.
  const off = await fetch(`${f.sim.url}/devices/${f.deviceId}/actions`, {
    method: "POST",
    headers: { "X-Auth-Token": f.sim.token, "Content-Type": "application/json" },
    body: JSON.stringify({ type: "power_off" }),
  });
  assert.equal(off.status, 202);
  await off.body?.cancel();
  await f.sim.fleet.waitForState(f.deviceId, "inactive");

  const recoverer = f.runRecoverer();
  try {
    await waitFor(async () => (await recoveryEvents(t, f.machineId)).includes("Failed"), {
      timeoutMs: 15_000,
      what: "the recovery failed",
    });
  } finally {
    await recoverer.stop();
  }
  const [backoff] = await t.bmdb.read((q) =>
    q.workBackoffOf({ machineId: f.machineId, process: Process.ShepherdRecovery })
  );
  assert.match(backoff.cause, /^recoverer failed: type: cannot reboot a device that is inactive \(it must be active\)/);
  assert.equal(backoff.lastIntervalSeconds, 600);
  assert.equal(await countRows(t, "SELECT count(*) FROM machine_agent_started"), 1, "the agent tag stays");
});
