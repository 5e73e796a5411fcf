/**
 * A reply lost between the database and the BMDB (a connection dropped, the
 * server restarting): a claim that locked a machine, or a release that never
 * ran, leaves the machine held by a session that is alive and does not know
 * it. The session releases such work (Canceled) before its next claim, and
 * nothing it knows of.
 *
 * The faults are injected between the Bmdb and its driver
 * (tests/harness/faulty_driver.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Driver } from "../../bmdb/driver.ts";
import { DatabaseError, Process } from "../../bmdb/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { FaultyDriver, isClaim, isFinish, isRelease } from "../harness/faulty_driver.ts";
import { addMachines, agentStarted, forAgentStart, openSession } from "../harness/fleet.ts";

// bmdbTest runs its tests one at a time: each test's driver replaces the last.
let faulty: FaultyDriver;
const wrapDriver = (inner: Driver) => (faulty = new FaultyDriver(inner)).driver;

async function heldBy(t: TestBmdb, sessionId: string): Promise<string[]> {
  const rows = await t.sql("SELECT machine_id FROM work WHERE session_id = $1 ORDER BY machine_id", [sessionId]);
  return rows.map((r) => r.machine_id as string);
}

async function historyOf(t: TestBmdb, machineId: string) {
  return (await t.bmdb.read((q) => q.listHistoryOf({ machineId }))).map((h) => `${h.event} ${h.sessionId}`);
}

bmdbTest(
  "a claim whose reply was lost is released before the session's next claim; the work it knows stays",
  async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    await addMachines(session, 3);
    const kept = await session.work(Process.ShepherdAgentStart, forAgentStart);

    faulty.fail(isClaim, "after running");
    await assert.rejects(session.work(Process.ShepherdAgentStart, forAgentStart), DatabaseError);
    const [lost] = (await heldBy(t, session.sessionId)).filter((m) => m !== kept.machineId);
    assert.ok(lost, "the claim whose reply was lost holds a machine for the session");

    const next = await session.work(Process.ShepherdAgentStart, forAgentStart);

    assert.deepEqual(await heldBy(t, session.sessionId), [kept.machineId, next.machineId].sort());
    const s = session.sessionId;
    assert.deepEqual((await historyOf(t, lost)).slice(0, 2), [`Started ${s}`, `Canceled ${s}`]);
    await kept.finish((q) => agentStarted(q, kept.machineId));
    await next.finish((q) => agentStarted(q, next.machineId));
    assert.deepEqual(await heldBy(t, session.sessionId), []);
  },
  { wrapDriver },
);

bmdbTest(
  "a finish lost before it reached the database is released (Canceled) before the session's next claim",
  async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    await addMachines(session, 2);
    const work = await session.work(Process.ShepherdAgentStart, forAgentStart);

    faulty.fail(isFinish, "before sending");
    await assert.rejects(work.finish((q) => agentStarted(q, work.machineId)), DatabaseError);
    assert.deepEqual(await heldBy(t, session.sessionId), [work.machineId], "still held, by a session that forgot it");

    const next = await session.work(Process.ShepherdAgentStart, forAgentStart);

    assert.deepEqual(await heldBy(t, session.sessionId), [next.machineId]);
    const s = session.sessionId;
    assert.deepEqual((await historyOf(t, work.machineId)).slice(0, 2), [`Started ${s}`, `Canceled ${s}`]);
    assert.equal(
      await t.sql("SELECT 1 FROM machine_agent_started WHERE machine_id = $1", [work.machineId]).then((r) => r.length),
      0,
      "nothing of the lost finish committed",
    );
    await next.cancel();
  },
  { wrapDriver },
);

bmdbTest(
  "a claim the server refused, or one that succeeded, costs the next claim no extra statement",
  async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    await addMachines(session, 3);

    faulty.fail(isClaim, "before sending", "57014"); // query_canceled: the server answered
    await assert.rejects(session.work(Process.ShepherdAgentStart, forAgentStart), DatabaseError);
    const first = await session.work(Process.ShepherdAgentStart, forAgentStart);
    await first.finish((q) => agentStarted(q, first.machineId));
    const second = await session.work(Process.ShepherdAgentStart, forAgentStart);
    await second.cancel();

    assert.equal(faulty.sent.filter(isRelease).length, 0, "no release of unknown work was sent");
    assert.deepEqual(await heldBy(t, session.sessionId), []);
  },
  { wrapDriver },
);

bmdbTest(
  "a release of unknown work that fails is tried again before the following claim, which waits for it",
  async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    await addMachines(session, 2);

    faulty.fail(isClaim, "after running");
    await assert.rejects(session.work(Process.ShepherdAgentStart, forAgentStart), DatabaseError);
    const [lost] = await heldBy(t, session.sessionId);
    faulty.fail(isRelease, "before sending");
    await assert.rejects(session.work(Process.ShepherdAgentStart, forAgentStart), DatabaseError);
    assert.deepEqual(await heldBy(t, session.sessionId), [lost], "nothing claimed while the release failed");

    const next = await session.work(Process.ShepherdAgentStart, forAgentStart);

    assert.deepEqual(await heldBy(t, session.sessionId), [next.machineId]);
    assert.equal(faulty.sent.filter(isRelease).length, 1);
    await next.cancel();
  },
  { wrapDriver },
);
