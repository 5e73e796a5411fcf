/**
 * A machine's whole life, end to end and in-process, on PGlite and on
 * PostgreSQL: the checked simulator's reservations become devices, devices
 * become BMDB machines, the initializer starts a (simulated, but real) agent
 * on each, and the agents heartbeat to the agent API over HTTP. Agents that
 * stop are noticed by the recoverer, their machines rebooted through the
 * provider and their agents started again. With provider 5xx and lost
 * replies, still exactly one device per reservation.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { type Bmdb, HistoryEvent, Process } from "../../bmdb/mod.ts";
import {
  type ControlPlane,
  EquinixProvider,
  SimulatedAgentStarter,
  startControlPlane,
  TokenBucket,
} from "../../loops/mod.ts";
import { listen, serverApp } from "../../server/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { type CheckedSimulator, simulatorClient, startCheckedSimulator } from "../harness/simulator.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { waitFor } from "../harness/wait.ts";

const FLEET = 20;
const HEARTBEAT_TIMEOUT_SECONDS = 4;

interface Fleet extends AsyncDisposable {
  sim: CheckedSimulator;
  starter: SimulatedAgentStarter;
  plane: ControlPlane;
}

/** The simulator, the server with the agent API, and every loop, fast-clocked. */
async function startFleet(t: TestBmdb, faults: { serverErrorRate: number; lostReplyRate: number }): Promise<Fleet> {
  const sim = await startCheckedSimulator({
    reservations: FLEET,
    timing: { queuedMs: 50, provisioningMs: 300, rebootMs: 300, deprovisionMs: 50 },
  });
  const client = simulatorClient(sim, { maxBackoffMs: 50, requestTimeoutMs: 1000 }); // a lost reply shows in 1 s
  const registry = new Registry();
  const server = listen(serverApp({ bmdb: t.bmdb, logger: quietLogger, registry }), { hostname: "127.0.0.1", port: 0 });
  const starter = new SimulatedAgentStarter({ fleet: sim.fleet, logger: quietLogger, retryMs: 100 });
  sim.faults.set(faults);
  const fast = { idleWaitMs: 100, errorPauseMs: 100, parallelism: 2 };
  const plane = startControlPlane({
    bmdb: t.bmdb,
    providers: [{ provider: new EquinixProvider(client, { pollIntervalMs: 50 }), starter }],
    agentUrl: server.url,
    registry,
    logger: quietLogger,
    dbLimiter: new TokenBucket({ intervalMs: 5, burst: 8 }),
    provisioner: {
      maxDevices: FLEET,
      chunkSize: 8,
      intervalMs: 200,
      creationLimiter: new TokenBucket({ intervalMs: 1, burst: FLEET }),
    },
    updater: { intervalMs: 200 },
    initializer: {
      ...fast,
      heartbeatIntervalSeconds: 1,
      backoff: { initialSeconds: 1, maximumSeconds: 2, exponent: 2 },
    },
    recoverer: {
      ...fast,
      timeouts: { startTimeoutSeconds: 10, heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_SECONDS },
      backoff: { initialSeconds: 1, maximumSeconds: 2, exponent: 2 },
    },
    janitor: { intervalMs: 1000 },
  });
  return {
    sim,
    starter,
    plane,
    async [Symbol.asyncDispose]() {
      await plane.stop();
      await starter.close();
      await server.shutdown();
      client.close();
      await sim.close(); // throws if any exchange broke the OpenAPI contract
    },
  };
}

/** Machines whose agent heartbeated within the last `seconds`. */
async function heartbeating(t: TestBmdb, seconds: number): Promise<Set<string>> {
  const rows = await t.sql(
    `SELECT h.machine_id FROM machine_agent_heartbeat h
     WHERE h.agent_heartbeat_at > now() - $1::int * interval '1 second'`,
    [seconds],
  );
  return new Set(rows.map((r) => r.machine_id as string));
}

async function agentKeys(t: TestBmdb): Promise<Map<string, string>> {
  const rows = await t.sql("SELECT machine_id, encode(agent_public_key, 'hex') AS key FROM machine_agent_started");
  return new Map(rows.map((r) => [r.machine_id as string, r.key as string]));
}

async function providerIdOf(bmdb: Bmdb): Promise<Map<string, string>> {
  const rows = await bmdb.read((q) => q.getProvidedMachines({ provider: "Equinix" }));
  return new Map(rows.map((m) => [m.machineId, m.providerId]));
}

async function eventsOf(bmdb: Bmdb, machineId: string, process: Process): Promise<string[]> {
  const history = await bmdb.read((q) => q.listHistoryOf({ machineId }));
  return history.filter((h) => h.process === process).map((h) => h.event);
}

/** No machine's history shows a process Started twice without an end in between. */
async function assertNoDoubleStarts(t: TestBmdb): Promise<void> {
  const rows = await t.sql("SELECT machine_id, process, event FROM work_history ORDER BY history_id");
  const open = new Set<string>();
  for (const r of rows) {
    const key = `${r.machine_id}|${r.process}`;
    if (r.event === HistoryEvent.Started) {
      assert.ok(!open.has(key), `${key} Started twice without an end in between`);
      open.add(key);
    } else if (r.event !== HistoryEvent.Retried) open.delete(key);
  }
}

bmdbTest(
  "20 reservations become 20 heartbeating machines; 3 stopped agents are recovered, and only those",
  async (t) => {
    await using fleet = await startFleet(t, { serverErrorRate: 0, lostReplyRate: 0 });
    const { sim, starter } = fleet;

    // Heartbeating, and each agent's hardware report (sent after its first accepted heartbeat) in.
    const alive = await waitFor(async () => {
      const live = await heartbeating(t, 2);
      const reports = await t.sql("SELECT count(*)::int AS n FROM machine_hardware_report");
      return live.size === FLEET && reports[0].n === FLEET && live;
    }, { timeoutMs: 60_000, intervalMs: 100, what: `${FLEET} machines heartbeating, with their hardware reports` });
    assert.equal(sim.fleet.devices().length, FLEET);
    const reports = await t.sql("SELECT hardware_report_raw FROM machine_hardware_report");
    const report = JSON.parse(new TextDecoder().decode(reports[0].hardware_report_raw as Uint8Array));
    assert.equal(report.simulated, true);
    for (const machineId of alive) {
      assert.deepEqual(await eventsOf(t.bmdb, machineId, Process.ShepherdAgentStart), ["Started", "Finished"]);
    }
    const keysBefore = await agentKeys(t);
    const devices = await providerIdOf(t.bmdb);

    // Three agents die; their machines stay up.
    const victims = [...alive].slice(0, 3);
    for (const machineId of victims) assert.ok(await starter.stopAgent(machineId));

    await waitFor(async () => {
      const keys = await agentKeys(t);
      const live = await heartbeating(t, 2);
      return victims.every((m) => keys.has(m) && keys.get(m) !== keysBefore.get(m) && live.has(m));
    }, { timeoutMs: 60_000, intervalMs: 100, what: "the stopped agents' machines recovered and heartbeating again" });

    for (const machineId of alive) {
      const boots = sim.fleet.machine(devices.get(machineId)!)!.boots;
      const recovery = await eventsOf(t.bmdb, machineId, Process.ShepherdRecovery);
      if (victims.includes(machineId)) {
        assert.equal(boots, 2, "rebooted once");
        assert.deepEqual(recovery, ["Started", "Finished"]);
        assert.deepEqual(await eventsOf(t.bmdb, machineId, Process.ShepherdAgentStart), [
          "Started",
          "Finished",
          "Started",
          "Finished",
        ]);
      } else {
        assert.equal(boots, 1, `machine ${machineId} was not rebooted`);
        assert.deepEqual(recovery, [], `machine ${machineId} was not recovered`);
      }
    }
    assert.equal(sim.stats.byOperation.performAction ?? 0, 3, "three reboots requested");
    assert.equal((await heartbeating(t, 2)).size, FLEET);
    await assertNoDoubleStarts(t);

    // What a shutdown that runs out of time would name: every loop while running, none once stopped.
    const loops = ["initializer", "janitor", "provisioner", "recoverer", "updater"];
    assert.deepEqual(fleet.plane.running().sort(), loops);
    await fleet.plane.stop();
    assert.deepEqual(fleet.plane.running(), []);
  },
);

bmdbTest(
  "with 20% provider 5xx and lost replies: still exactly 20 devices, none twice, all heartbeating",
  async (t) => {
    await using fleet = await startFleet(t, { serverErrorRate: 0.2, lostReplyRate: 0.2 });
    const { sim } = fleet;
    await waitFor(async () => (await heartbeating(t, 2)).size === FLEET, {
      timeoutMs: 120_000,
      intervalMs: 100,
      what: `${FLEET} machines heartbeating despite provider faults`,
    });
    const devices = sim.fleet.devices();
    assert.equal(devices.length, FLEET, "one device per reservation");
    const onReservations = sim.fleet.reservations().map((r) => r.device?.id);
    assert.deepEqual(onReservations.sort(), devices.map((d) => d.id).sort(), "each reservation holds one of them");
    const machines = await providerIdOf(t.bmdb);
    assert.equal(machines.size, FLEET);
    assert.deepEqual([...machines.values()].sort(), devices.map((d) => d.id).sort(), "each device one machine");
    assert.ok((sim.stats.byOperation.createDevice ?? 0) >= FLEET);
    await assertNoDoubleStarts(t);
  },
);
