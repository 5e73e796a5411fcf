/**
 * Backoff after failed work: exponential growth capped at the maximum,
 * constant intervals, a finish clearing it, and an operator's retry.
 *
 * Backoffs are never slept through: a test that needs a machine back moves
 * its `until` into the past (or retries it, as an operator would).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Backoff, type Bmdb, MachineNotFoundError, Process, Provider, type Session } from "../../bmdb/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { addMachines, byId, forAgentStart, openSession } from "../harness/fleet.ts";

/** Machines eligible for agent start, sorted. */
async function eligibleForAgentStart(bmdb: Bmdb): Promise<string[]> {
  const rows = await bmdb.read((q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1000 }));
  return rows.map((r) => r.machineId).sort();
}

/** Claims the machine by id and fails the work with `backoff`. */
async function claimAndFail(session: Session, machineId: string, process: Process, backoff: Backoff, cause: string) {
  const work = await session.work(process, byId(machineId));
  try {
    await work.fail(backoff, cause);
  } finally {
    await work.cancel();
  }
}

/** The machine's backoff for `process`, if any. */
async function backoffOf(bmdb: Bmdb, machineId: string, process: Process = Process.ShepherdAgentStart) {
  const rows = await bmdb.read((q) => q.workBackoffOf({ machineId, process }));
  assert.ok(rows.length <= 1, `more than one backoff: ${JSON.stringify(rows)}`);
  return rows[0];
}

/** Asserts the backoff stores `seconds` and runs out about `seconds` from now. */
async function assertBackoff(bmdb: Bmdb, machineId: string, seconds: number, cause: string) {
  const backoff = await backoffOf(bmdb, machineId);
  assert.ok(backoff, `no backoff on ${machineId}`);
  assert.equal(backoff.lastIntervalSeconds, seconds);
  assert.equal(backoff.cause, cause);
  const remaining = (backoff.until.getTime() - Date.now()) / 1000;
  assert.ok(remaining > seconds - 2 && remaining <= seconds + 0.5, `until is ${remaining} s away, not ${seconds}`);
}

/** Lets a backoff run out now, keeping its interval (what waiting through it would do). */
async function runOut(t: TestBmdb, machineId: string) {
  await t.sql("UPDATE work_backoff SET until = now() - interval '1 second' WHERE machine_id = $1", [machineId]);
}

async function eventsOf(bmdb: Bmdb, machineId: string) {
  const history = await bmdb.read((q) => q.listHistoryOf({ machineId }));
  return history.map((h) => [h.event, h.failedCause]);
}

bmdbTest("failures back off 5, 10, 20, 20 seconds with exponent 2, out of the workflow meanwhile", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const policy = { initialSeconds: 5, maximumSeconds: 20, exponent: 2 };

  for (const [i, seconds] of [5, 10, 20, 20].entries()) {
    const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
    cleanup.defer(() => work.cancel());
    assert.equal(work.machineId, machineId);
    await work.fail(policy, `attempt ${i + 1}`);

    await assertBackoff(t.bmdb, machineId, seconds, `attempt ${i + 1}`);
    assert.deepEqual(await eligibleForAgentStart(t.bmdb), []);
    await runOut(t, machineId);
    assert.deepEqual(await eligibleForAgentStart(t.bmdb), [machineId]);
  }
  assert.deepEqual(await eventsOf(t.bmdb, machineId), [
    ["Started", null],
    ["Failed", "attempt 1"],
    ["Started", null],
    ["Failed", "attempt 2"],
    ["Started", null],
    ["Failed", "attempt 3"],
    ["Started", null],
    ["Failed", "attempt 4"],
  ]);
});

bmdbTest("failures back off by a constant initialSeconds with exponent 1 or 0", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const machines = await addMachines(session, 2);

  for (const [machineId, exponent] of [[machines[0], 1], [machines[1], 0]] as const) {
    for (let i = 0; i < 3; i++) {
      // By id: a claim does not need the backoff to have run out.
      await claimAndFail(session, machineId, Process.ShepherdAgentStart, {
        initialSeconds: 5,
        maximumSeconds: 60,
        exponent,
      }, `exponent ${exponent}`);
      await assertBackoff(t.bmdb, machineId, 5, `exponent ${exponent}`);
    }
  }
});

bmdbTest("a finish clears the backoff, so the next failure starts at initialSeconds again", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const policy = { initialSeconds: 5, maximumSeconds: 20, exponent: 2 };
  await claimAndFail(session, machineId, Process.ShepherdAgentStart, policy, "first");
  await claimAndFail(session, machineId, Process.ShepherdAgentStart, policy, "second");
  await assertBackoff(t.bmdb, machineId, 10, "second");

  const work = await session.work(Process.ShepherdAgentStart, byId(machineId));
  cleanup.defer(() => work.cancel());
  await work.finish(() => {});
  assert.equal(await backoffOf(t.bmdb, machineId), undefined);
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), [machineId]);

  await claimAndFail(session, machineId, Process.ShepherdAgentStart, policy, "third");
  await assertBackoff(t.bmdb, machineId, 5, "third");
  assert.deepEqual((await eventsOf(t.bmdb, machineId)).map(([event]) => event), [
    ...["Started", "Failed", "Started", "Failed"],
    ...["Started", "Finished", "Started", "Failed"],
  ]);
});

bmdbTest("retryMachine clears a backoff, records the actor, and the machine is eligible at once", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const policy = { initialSeconds: 3600, maximumSeconds: 7200, exponent: 2 };
  await claimAndFail(session, machineId, Process.ShepherdAgentStart, policy, "no answer");
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), []);

  const deleted = await t.bmdb.retryMachine({ machineId, process: Process.ShepherdAgentStart, actor: "hana" });
  assert.equal(deleted, 1);
  assert.equal(await backoffOf(t.bmdb, machineId), undefined);
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), [machineId]);
  const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
  const retried = history.at(-1);
  assert.equal(retried?.event, "Retried");
  assert.equal(retried?.actor, "hana");
  assert.equal(retried?.process, Process.ShepherdAgentStart);

  // The retry also reset the growth: the next failure backs off by initialSeconds, not twice it.
  const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
  cleanup.defer(() => work.cancel());
  assert.equal(work.machineId, machineId);
  await work.fail(policy, "still no answer");
  await assertBackoff(t.bmdb, machineId, 3600, "still no answer");
});

bmdbTest("a retry while work runs makes its failure start at initialSeconds again", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const policy = { initialSeconds: 5, maximumSeconds: 20, exponent: 2 };
  await claimAndFail(session, machineId, Process.ShepherdAgentStart, policy, "first");

  const work = await session.work(Process.ShepherdAgentStart, byId(machineId));
  cleanup.defer(() => work.cancel());
  await t.bmdb.retryMachine({ machineId, actor: "ivan" });
  await work.fail(policy, "second");
  await assertBackoff(t.bmdb, machineId, 5, "second");
});

bmdbTest(
  "retryMachine records Retried even without a backoff, and without a process clears every process's backoff",
  async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    const [idle, failed] = await addMachines(session, 2);

    assert.equal(await t.bmdb.retryMachine({ machineId: idle, actor: "jo" }), 0);
    assert.equal(await t.bmdb.retryMachine({ machineId: idle, process: Process.UnitTest1, actor: "kim" }), 0);
    const idleHistory = await t.bmdb.read((q) => q.listHistoryOf({ machineId: idle }));
    assert.deepEqual(idleHistory.map((h) => [h.event, h.process, h.actor, h.sessionId]), [
      ["Retried", null, "jo", null],
      ["Retried", Process.UnitTest1, "kim", null],
    ]);

    const policy = { initialSeconds: 600, maximumSeconds: 600, exponent: 1 };
    await claimAndFail(session, failed, Process.ShepherdAgentStart, policy, "agent start failed");
    await claimAndFail(session, failed, Process.UnitTest1, policy, "test failed");
    assert.equal(await t.bmdb.retryMachine({ machineId: failed, actor: "lee" }), 2);
    assert.equal(await backoffOf(t.bmdb, failed, Process.ShepherdAgentStart), undefined);
    assert.equal(await backoffOf(t.bmdb, failed, Process.UnitTest1), undefined);
    assert.deepEqual(await eligibleForAgentStart(t.bmdb), [idle, failed].sort());

    const missing = crypto.randomUUID();
    await assert.rejects(t.bmdb.retryMachine({ machineId: missing, actor: "lee" }), (error) => {
      assert.ok(error instanceof MachineNotFoundError, `expected MachineNotFoundError, got ${error}`);
      assert.equal(error.machineId, missing);
      return true;
    });
    assert.deepEqual(await t.bmdb.read((q) => q.listHistoryOf({ machineId: missing })), []);
  },
);
