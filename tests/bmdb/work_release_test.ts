/**
 * How held work is released when its session ends: in order by `close()`
 * (Canceled), or, after a crash, by the janitor (Expired).
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Bmdb, Process, Provider, type Session, SessionExpiredError } from "../../bmdb/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { addMachines, byId, openSession } from "../harness/fleet.ts";

/** Rows of a raw SQL check, as a plain array. */
async function select(t: TestBmdb, text: string, params?: unknown[]) {
  return [...await t.sql(text, params)];
}

/** `[event, sessionId, actor]` of a machine's history, oldest first. */
async function historyOf(bmdb: Bmdb, machineId: string) {
  const history = await bmdb.read((q) => q.listHistoryOf({ machineId }));
  return history.map((h) => [h.event, h.sessionId, h.actor]);
}

/** Which session holds each busy machine, per the `work` view. */
async function holders(t: TestBmdb): Promise<Record<string, unknown>> {
  const rows = await select(t, "SELECT machine_id, session_id FROM work");
  return Object.fromEntries(rows.map((r) => [r.machine_id, r.session_id]));
}

/** Crashes a session: no more heartbeats, and its deadline put `secondsAgo` in the past. */
async function crash(t: TestBmdb, session: Session, controller: AbortController, secondsAgo: number) {
  controller.abort(new Error("simulated crash"));
  await t.sql("UPDATE sessions SET session_deadline = now() - $2 * interval '1 second' WHERE session_id = $1", [
    session.sessionId,
    secondsAgo,
  ]);
}

bmdbTest("closing a session releases its work as Canceled and aborts the work's signals", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const closing = await openSession(t.bmdb, cleanup);
  const other = await openSession(t.bmdb, cleanup);
  const [agentMachine, testMachine] = await addMachines(other, 2);
  const agentWork = await closing.work(Process.ShepherdAgentStart, byId(agentMachine));
  const testWork = await closing.work(Process.UnitTest1, byId(testMachine));
  const canceledWork = await closing.work(Process.UnitTest2, byId(testMachine));
  for (const work of [agentWork, testWork, canceledWork]) cleanup.defer(() => work.cancel());
  // An operator's request still pending at close names the operator.
  await t.bmdb.requestWorkCancel({ machineId: testMachine, process: Process.UnitTest2, actor: "mo" });

  await closing.close();

  for (const work of [agentWork, testWork, canceledWork]) {
    assert.ok(work.signal.aborted, `${work.process} on ${work.machineId} was not aborted`);
    assert.ok(work.signal.reason instanceof SessionExpiredError);
  }
  assert.deepEqual(await select(t, "SELECT * FROM sessions WHERE session_id = $1", [closing.sessionId]), []);
  assert.deepEqual(await holders(t), {});
  assert.deepEqual(await historyOf(t.bmdb, agentMachine), [
    ["Started", closing.sessionId, null],
    ["Canceled", closing.sessionId, null],
  ]);
  const testHistory = await t.bmdb.read((q) => q.listHistoryOf({ machineId: testMachine }));
  assert.deepEqual(testHistory.filter((h) => h.event === "Canceled").map((h) => [h.process, h.sessionId, h.actor]), [
    [Process.UnitTest1, closing.sessionId, null],
    [Process.UnitTest2, closing.sessionId, "mo"],
  ]);
  // Finishing after the close is refused, and commits nothing.
  await assert.rejects(agentWork.finish(() => {}), SessionExpiredError);

  // Released, not merely expired: another session claims at once, with no Expired recorded.
  const eligible = await t.bmdb.read((q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 10 }));
  assert.deepEqual(eligible.map((m) => m.machineId).sort(), [agentMachine, testMachine].sort());
  const next = await other.work(Process.ShepherdAgentStart, byId(agentMachine));
  cleanup.defer(() => next.cancel());
  const again = await other.work(Process.UnitTest1, byId(testMachine));
  cleanup.defer(() => again.cancel());
  assert.deepEqual((await historyOf(t.bmdb, agentMachine)).map(([event]) => event), ["Started", "Canceled", "Started"]);
});

bmdbTest("the janitor reaps sessions expired past the grace period, recording Expired for their work", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const longAgo = new AbortController();
  const recently = new AbortController();
  const longDead = await openSession(t.bmdb, cleanup, { signal: longAgo.signal });
  const recentlyDead = await openSession(t.bmdb, cleanup, { signal: recently.signal });
  const live = await openSession(t.bmdb, cleanup);
  const [longDeadMachine, recentlyDeadMachine, liveMachine] = await addMachines(live, 3);
  const works = [
    await longDead.work(Process.UnitTest1, byId(longDeadMachine)),
    await recentlyDead.work(Process.UnitTest1, byId(recentlyDeadMachine)),
    await live.work(Process.UnitTest1, byId(liveMachine)),
  ];
  for (const work of works) cleanup.defer(() => work.cancel());
  await crash(t, longDead, longAgo, 300);
  await crash(t, recentlyDead, recently, 5);

  assert.deepEqual(await t.bmdb.reapExpiredSessions({ graceSeconds: 60 }), { sessions: 1, work: 1 });

  const sessions = await select(t, "SELECT session_id FROM sessions");
  assert.deepEqual(sessions.map((r) => r.session_id).sort(), [recentlyDead.sessionId, live.sessionId].sort());
  assert.deepEqual(await holders(t), {
    [recentlyDeadMachine]: recentlyDead.sessionId,
    [liveMachine]: live.sessionId,
  });
  assert.deepEqual(await historyOf(t.bmdb, longDeadMachine), [
    ["Started", longDead.sessionId, null],
    ["Expired", longDead.sessionId, null],
  ]);
  assert.deepEqual(await historyOf(t.bmdb, recentlyDeadMachine), [["Started", recentlyDead.sessionId, null]]);

  // The live session was left alone: it still holds its work and finishes it.
  assert.equal(live.signal.aborted, false);
  await works[2].finish(() => {});
  assert.deepEqual((await historyOf(t.bmdb, liveMachine)).map(([event]) => event), ["Started", "Finished"]);

  // Without a grace period, the recently expired session goes too.
  assert.deepEqual(await t.bmdb.reapExpiredSessions({ graceSeconds: 0 }), { sessions: 1, work: 1 });
  assert.deepEqual(await historyOf(t.bmdb, recentlyDeadMachine), [
    ["Started", recentlyDead.sessionId, null],
    ["Expired", recentlyDead.sessionId, null],
  ]);
  assert.deepEqual(await holders(t), {});
  const sessionsLeft = await select(t, "SELECT session_id FROM sessions");
  assert.deepEqual(sessionsLeft.map((r) => r.session_id), [live.sessionId]);
});
