/**
 * `work.finishAndClaim()`: a worker's steady state, finishing one machine and
 * claiming the next in one statement, with the guarantees of a finish
 * followed by a claim.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Process, type Work, WorkCanceledError } from "../../bmdb/mod.ts";
import { FINISH_AND_CLAIM_IN_FLIGHT } from "../../bmdb/commit_and_claim.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { addMachines, agentStarted, forAgentStart, openSession } from "../harness/fleet.ts";

async function eventsOf(t: TestBmdb, machineId: string) {
  return (await t.bmdb.read((q) => q.listHistoryOf({ machineId }))).map((h) => h.event);
}

bmdbTest("finishAndClaim finishes the machine and hands over the next one in one statement", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  await addMachines(session, 3);
  const first = await session.work(Process.ShepherdAgentStart, forAgentStart);
  const statementsBefore = t.bmdb.batches.commitsAndClaims.batches;

  const next = await first.finishAndClaim((q) => agentStarted(q, first.machineId), forAgentStart);

  assert.ok(next, "a second machine was eligible");
  assert.notEqual(next.machineId, first.machineId);
  assert.equal(next.machine?.machineId, next.machineId);
  assert.equal(t.bmdb.batches.commitsAndClaims.batches - statementsBefore, 1, "one statement did both");
  assert.deepEqual(await eventsOf(t, first.machineId), ["Started", "Finished"]);
  assert.deepEqual(await eventsOf(t, next.machineId), ["Started"]);
  const started = await t.sql("SELECT machine_id FROM machine_agent_started");
  assert.deepEqual(started.map((r) => r.machine_id), [first.machineId]);
  const held = await t.sql("SELECT machine_id FROM work");
  assert.deepEqual(held.map((r) => r.machine_id), [next.machineId]);
  await next.cancel();
});

bmdbTest("finishAndClaim after an operator's cancel commits nothing and claims nothing", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 60 });
  await addMachines(session, 3);
  const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
  await t.bmdb.requestWorkCancel({ machineId: work.machineId, process: work.process, actor: "alice" });

  await assert.rejects(
    work.finishAndClaim((q) => agentStarted(q, work.machineId), forAgentStart),
    (e: unknown) => e instanceof WorkCanceledError && e.actor === "alice",
  );

  assert.deepEqual(await eventsOf(t, work.machineId), ["Started", "Canceled"]);
  assert.equal((await t.sql("SELECT count(*)::int AS n FROM work"))[0].n, 0, "no next machine was claimed");
  assert.equal((await t.sql("SELECT count(*)::int AS n FROM machine_agent_started"))[0].n, 0);
});

bmdbTest("finishAndClaim with nothing left to claim still finishes, and resolves undefined", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [only] = await addMachines(session, 1);
  const work = await session.work(Process.ShepherdAgentStart, forAgentStart);

  const next = await work.finishAndClaim((q) => agentStarted(q, only), forAgentStart);

  assert.equal(next, undefined);
  assert.deepEqual(await eventsOf(t, only), ["Started", "Finished"]);
  assert.equal((await t.sql("SELECT count(*)::int AS n FROM work"))[0].n, 0);
});

bmdbTest("finishAndClaim with a finish function that awaits falls back to a finish and a claim", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  await addMachines(session, 2);
  const work = await session.work(Process.ShepherdAgentStart, forAgentStart);

  const next = await work.finishAndClaim(async (q) => await agentStarted(q, work.machineId), forAgentStart);

  assert.ok(next);
  assert.deepEqual(await eventsOf(t, work.machineId), ["Started", "Finished"]);
  assert.deepEqual(await eventsOf(t, next.machineId), ["Started"]);
  await next.cancel();
});

bmdbTest("workers looping on finishAndClaim finish every machine exactly once", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const setup = await openSession(t.bmdb, cleanup);
  const machines = await addMachines(setup, 60);
  // More workers than finish-and-claim statements may be in flight: some units go as a finish and a claim.
  const workers = FINISH_AND_CLAIM_IN_FLIGHT + 4;
  const sessions = await Promise.all(Array.from({ length: workers }, () => openSession(t.bmdb, cleanup)));

  await Promise.all(sessions.map(async (session) => {
    let work: Work<unknown> | undefined = await session.work(Process.ShepherdAgentStart, forAgentStart)
      .catch(() => undefined);
    while (work) {
      const current: Work<unknown> = work;
      work = await current.finishAndClaim((q) => agentStarted(q, current.machineId), forAgentStart);
    }
  }));

  const finished = await t.sql(
    "SELECT machine_id, count(*)::int AS n FROM work_history WHERE event = 'Finished' GROUP BY machine_id",
  );
  assert.equal(finished.length, 60, "every machine finished");
  assert.ok(finished.every((r) => r.n === 1), "none finished twice");
  assert.deepEqual(new Set(finished.map((r) => r.machine_id)), new Set(machines));
  assert.equal((await t.sql("SELECT count(*)::int AS n FROM work"))[0].n, 0);
});
