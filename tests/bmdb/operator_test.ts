/**
 * An operator's cancel request: the owner's work.signal aborts, its finish is
 * fenced off (nothing of it commits, on every finish path), fail and cancel
 * record Canceled, dead owners are released at once, and unknown work or
 * machines are errors.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Bmdb,
  MachineNotFoundError,
  Process,
  Provider,
  type Queries,
  type Session,
  WorkCanceledError,
  WorkNotFoundError,
} from "../../bmdb/mod.ts";
import { bmdbTest, type TestBmdb, testDrivers } from "../harness/bmdb.ts";
import { addMachines, agentStarted, byId, forAgentStart, openSession } from "../harness/fleet.ts";
import { aborted } from "../harness/wait.ts";

/** With `intervalSeconds: 1` a heartbeat runs every 500 ms; the owner must notice a cancel by the next one. */
const NOTICE_WITHIN_MS = 1500;

/** Rows of a raw SQL check, as a plain array. */
async function select(t: TestBmdb, text: string, params?: unknown[]) {
  return [...await t.sql(text, params)];
}

const agentHeartbeat = (q: Queries, machineId: string) =>
  q.machineSetAgentHeartbeat({ machineId, agentHeartbeatAt: new Date() });

/** The signal's reason, or a failure if it does not abort within `ms`. */
async function abortedWithin(signal: AbortSignal, ms: number): Promise<unknown> {
  const timeout = aborted(AbortSignal.timeout(ms)).then(() => {
    throw new Error(`work.signal did not abort within ${ms} ms`);
  });
  return await Promise.race([aborted(signal), timeout]);
}

/** `[event, sessionId, actor]` of a machine's history, oldest first. */
async function historyOf(bmdb: Bmdb, machineId: string) {
  const history = await bmdb.read((q) => q.listHistoryOf({ machineId }));
  return history.map((h) => [h.event, h.sessionId, h.actor]);
}

function isCanceledBy(actor: string, machineId: string) {
  return (error: unknown) => {
    assert.ok(error instanceof WorkCanceledError, `expected WorkCanceledError, got ${error}`);
    assert.equal(error.actor, actor);
    assert.equal(error.machineId, machineId);
    assert.equal(error.process, Process.ShepherdAgentStart);
    return true;
  };
}

/** The machine was released as Canceled by `actor`, with no tag of the finish, and is eligible again. */
async function assertCanceledNothingCommitted(t: TestBmdb, machineId: string, session: Session, actor: string) {
  assert.deepEqual(await historyOf(t.bmdb, machineId), [
    ["Started", session.sessionId, null],
    ["Canceled", session.sessionId, actor],
  ]);
  for (const table of ["machine_agent_started", "machine_agent_heartbeat"]) {
    assert.deepEqual(await select(t, `SELECT machine_id FROM ${table} WHERE machine_id = $1`, [machineId]), []);
  }
  assert.deepEqual(await select(t, "SELECT * FROM work WHERE machine_id = $1", [machineId]), []);
  const eligible = await t.bmdb.read((q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 10 }));
  assert.deepEqual(eligible.map((m) => m.machineId), [machineId]);
}

/** A finish function that awaits its writes (an interactive transaction). */
const awaitedWrites = (machineId: string) => async (q: Queries) => {
  await agentStarted(q, machineId);
  await agentHeartbeat(q, machineId);
};

const finishPaths: { name: string; commit: (machineId: string) => (q: Queries) => unknown }[] = [
  { name: "a composed tag write", commit: (m) => (q) => agentStarted(q, m) },
  { name: "an array of composed tag writes", commit: (m) => (q) => [agentStarted(q, m), agentHeartbeat(q, m)] },
  { name: "an async function that awaits its writes", commit: awaitedWrites },
];

for (const path of finishPaths) {
  bmdbTest(`an operator's cancel aborts work.signal, and a finish by ${path.name} commits nothing`, async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 1 });
    const [machineId] = await addMachines(session, 1);
    const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
    cleanup.defer(() => work.cancel());
    assert.equal(work.signal.aborted, false);

    await t.bmdb.requestWorkCancel({ machineId, process: Process.ShepherdAgentStart, actor: "alice" });
    const reason = await abortedWithin(work.signal, NOTICE_WITHIN_MS);
    isCanceledBy("alice", machineId)(reason);
    assert.equal(session.signal.aborted, false);

    await assert.rejects(work.finish(path.commit(machineId)), isCanceledBy("alice", machineId));
    await assertCanceledNothingCommitted(t, machineId, session, "alice");
  });

  bmdbTest(`a finish by ${path.name} commits nothing after a cancel request its owner has not noticed`, async (t) => {
    await using cleanup = new AsyncDisposableStack();
    // Heartbeats every 30 s: none runs during the test, so only the commit itself can see the request.
    const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 60 });
    const [machineId] = await addMachines(session, 1);
    const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
    cleanup.defer(() => work.cancel());

    await t.bmdb.requestWorkCancel({ machineId, process: Process.ShepherdAgentStart, actor: "alice" });
    assert.equal(work.signal.aborted, false);
    await assert.rejects(work.finish(path.commit(machineId)), isCanceledBy("alice", machineId));
    await assertCanceledNothingCommitted(t, machineId, session, "alice");
  });
}

bmdbTest("an operator's cancel from another component reaches the owner through the database", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  // On PostgreSQL a separate pool, as another process would have; on PGlite the same instance.
  const operator = await t.openAnother({ component: "operator" });
  const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 1 });
  const [machineId] = await addMachines(session, 1);
  const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
  cleanup.defer(() => work.cancel());

  await operator.requestWorkCancel({ machineId, process: Process.ShepherdAgentStart, actor: "bob" });
  isCanceledBy("bob", machineId)(await abortedWithin(work.signal, NOTICE_WITHIN_MS));
  await assert.rejects(work.finish(awaitedWrites(machineId)), isCanceledBy("bob", machineId));
  await assertCanceledNothingCommitted(t, machineId, session, "bob");
});

bmdbTest("a cancel request that lands while an async finish runs wins, and nothing of it commits", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const operator = await t.openAnother({ component: "operator" });
  const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 60 });
  const [machineId] = await addMachines(session, 1);
  const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
  cleanup.defer(() => work.cancel());

  let requested = false;
  const finish = work.finish(async (q) => {
    await agentStarted(q, machineId);
    if (!requested) {
      // Commits while the finish's transaction is open (it may run again after this).
      requested = true;
      await operator.requestWorkCancel({ machineId, process: Process.ShepherdAgentStart, actor: "frank" });
    }
    await agentHeartbeat(q, machineId);
  });
  await assert.rejects(finish, isCanceledBy("frank", machineId));
  await assertCanceledNothingCommitted(t, machineId, session, "frank");
  // The request needs a second connection: PGlite's one backend is held by the open transaction.
}, { drivers: testDrivers().filter((driver) => driver === "postgres") });

bmdbTest("a cancel request aborts only the named process's work on the machine", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 1 });
  const [machineId] = await addMachines(session, 1);
  const thisMachine = () => Promise.resolve([machineId]);
  const canceled = await session.work(Process.UnitTest1, thisMachine);
  const kept = await session.work(Process.UnitTest2, thisMachine);
  cleanup.defer(() => canceled.cancel());
  cleanup.defer(() => kept.cancel());

  await t.bmdb.requestWorkCancel({ machineId, process: Process.UnitTest1, actor: "gina" });
  await abortedWithin(canceled.signal, NOTICE_WITHIN_MS);
  // The heartbeat that aborted one handled both.
  assert.equal(kept.signal.aborted, false);
  await assert.rejects(canceled.finish(() => {}), WorkCanceledError);
  await kept.finish(() => {});

  const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
  const events = (process: Process) => history.filter((h) => h.process === process).map((h) => [h.event, h.actor]);
  assert.deepEqual(events(Process.UnitTest1), [["Started", null], ["Canceled", "gina"]]);
  assert.deepEqual(events(Process.UnitTest2), [["Started", null], ["Finished", null]]);
});

bmdbTest("fail and cancel after a cancel request record Canceled by the operator and add no backoff", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 1 });
  const [failing, canceling] = await addMachines(session, 2);
  const failWork = await session.work(Process.ShepherdAgentStart, byId(failing));
  const cancelWork = await session.work(Process.ShepherdAgentStart, byId(canceling));
  cleanup.defer(() => failWork.cancel());
  cleanup.defer(() => cancelWork.cancel());

  for (const machineId of [failing, canceling]) {
    await t.bmdb.requestWorkCancel({ machineId, process: Process.ShepherdAgentStart, actor: "carol" });
  }
  await abortedWithin(failWork.signal, NOTICE_WITHIN_MS);
  await failWork.fail({ initialSeconds: 600, maximumSeconds: 600, exponent: 2 }, "gave up after the cancel");
  await cancelWork.cancel();

  for (const machineId of [failing, canceling]) {
    assert.deepEqual(await historyOf(t.bmdb, machineId), [
      ["Started", session.sessionId, null],
      ["Canceled", session.sessionId, "carol"],
    ]);
    const backoff = await t.bmdb.read((q) => q.workBackoffOf({ machineId, process: Process.ShepherdAgentStart }));
    assert.deepEqual(backoff, []);
  }
  const eligible = await t.bmdb.read((q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 10 }));
  assert.deepEqual(eligible.map((m) => m.machineId).sort(), [failing, canceling].sort());
});

bmdbTest("an operator's cancel of a dead session's work releases the machine at once", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const crash = new AbortController();
  const dead = await openSession(t.bmdb, cleanup, { intervalSeconds: 60, signal: crash.signal });
  const other = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(other, 1);
  const work = await dead.work(Process.ShepherdAgentStart, forAgentStart);
  cleanup.defer(() => work.cancel());
  crash.abort(new Error("simulated crash"));
  // No heartbeats after the crash; move its deadline into the past rather than wait a minute.
  await t.sql("UPDATE sessions SET session_deadline = now() - interval '1 second' WHERE session_id = $1", [
    dead.sessionId,
  ]);

  await t.bmdb.requestWorkCancel({ machineId, process: Process.ShepherdAgentStart, actor: "dave" });
  assert.deepEqual(await select(t, "SELECT * FROM work WHERE machine_id = $1", [machineId]), []);
  assert.deepEqual(await historyOf(t.bmdb, machineId), [
    ["Started", dead.sessionId, null],
    ["Canceled", dead.sessionId, "dave"],
  ]);

  // Released, not merely not blocking: the next claim records no Expired.
  const next = await other.work(Process.ShepherdAgentStart, forAgentStart);
  cleanup.defer(() => next.cancel());
  assert.equal(next.machineId, machineId);
  assert.deepEqual((await historyOf(t.bmdb, machineId)).map(([event]) => event), ["Started", "Canceled", "Started"]);
});

bmdbTest("a cancel request for work that is not running, or a machine that does not exist, is an error", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const process = Process.ShepherdAgentStart;
  const notFound = (error: unknown) => {
    assert.ok(error instanceof WorkNotFoundError, `expected WorkNotFoundError, got ${error}`);
    assert.equal(error.machineId, machineId);
    assert.equal(error.process, process);
    return true;
  };

  // Never started.
  await assert.rejects(t.bmdb.requestWorkCancel({ machineId, process, actor: "erin" }), notFound);
  // Already finished.
  const work = await session.work(process, forAgentStart);
  await work.finish((q) => agentStarted(q, machineId));
  await assert.rejects(t.bmdb.requestWorkCancel({ machineId, process, actor: "erin" }), notFound);
  // Running, but under another process.
  const other = await session.work(Process.UnitTest1, () => Promise.resolve([machineId]));
  cleanup.defer(() => other.cancel());
  await assert.rejects(t.bmdb.requestWorkCancel({ machineId, process, actor: "erin" }), notFound);
  assert.equal(other.signal.aborted, false);

  const missing = crypto.randomUUID();
  await assert.rejects(t.bmdb.requestWorkCancel({ machineId: missing, process, actor: "erin" }), (error) => {
    assert.ok(error instanceof MachineNotFoundError, `expected MachineNotFoundError, got ${error}`);
    assert.equal(error.machineId, missing);
    return true;
  });
  // Nothing was written by the refused requests.
  assert.deepEqual((await historyOf(t.bmdb, machineId)).map(([event]) => event), ["Started", "Finished", "Started"]);
  assert.deepEqual(await historyOf(t.bmdb, missing), []);
});
