/**
 * Work semantics across sessions: seed 004's three tests (conflict across
 * sessions, the installation workflow, three workers on six machines), a race
 * of eight sessions for forty machines, and a crashed session's work.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Bmdb, NothingToDoError, Process, Provider, WorkConflictError } from "../../bmdb/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { addMachines, agentStarted, forAgentStart, openSession } from "../harness/fleet.ts";
import { aborted, waitFor } from "../harness/wait.ts";

/** Rows of a raw SQL check, as a plain array. */
async function select(t: TestBmdb, text: string, params?: unknown[]) {
  return [...await t.sql(text, params)];
}

/** Machines eligible for agent start, sorted. */
async function eligibleForAgentStart(bmdb: Bmdb): Promise<string[]> {
  const rows = await bmdb.read((q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1000 }));
  return rows.map((r) => r.machineId).sort();
}

/** `[event, sessionId]` of a machine's history for one process, oldest first. */
async function eventsOf(bmdb: Bmdb, machineId: string, process: Process) {
  const history = await bmdb.read((q) => q.listHistoryOf({ machineId }));
  return history.filter((h) => h.process === process).map((h) => [h.event, h.sessionId]);
}

function isConflictOn(machineId: string, process: Process) {
  return (error: unknown) => {
    assert.ok(error instanceof WorkConflictError, `expected WorkConflictError, got ${error}`);
    assert.equal(error.machineId, machineId);
    assert.equal(error.process, process);
    return true;
  };
}

bmdbTest("work on a machine conflicts across sessions only for the same process", async ({ bmdb }) => {
  await using cleanup = new AsyncDisposableStack();
  const one = await openSession(bmdb, cleanup);
  const two = await openSession(bmdb, cleanup);
  const [machineId] = await addMachines(one, 1);
  const thisMachine = () => Promise.resolve([machineId]);

  const first = await one.work(Process.UnitTest1, thisMachine);
  cleanup.defer(() => first.cancel());
  assert.equal(first.machineId, machineId);

  // A different process on the same machine is allowed, from either session.
  for (const session of [one, two]) {
    const other = await session.work(Process.UnitTest2, thisMachine);
    await other.cancel();
  }
  // The same process conflicts, from either session, and writes nothing.
  const before = await eventsOf(bmdb, machineId, Process.UnitTest1);
  for (const session of [one, two]) {
    await assert.rejects(session.work(Process.UnitTest1, thisMachine), isConflictOn(machineId, Process.UnitTest1));
  }
  assert.deepEqual(await eventsOf(bmdb, machineId, Process.UnitTest1), before);

  // Once the first work is canceled, either session can claim it again.
  await first.cancel();
  for (const session of [one, two]) {
    const again = await session.work(Process.UnitTest1, thisMachine);
    await again.cancel();
  }
  assert.deepEqual(await eventsOf(bmdb, machineId, Process.UnitTest1), [
    ["Started", one.sessionId],
    ["Canceled", one.sessionId],
    ["Started", one.sessionId],
    ["Canceled", one.sessionId],
    ["Started", two.sessionId],
    ["Canceled", two.sessionId],
  ]);
});

bmdbTest("a machine under agent start work is not offered again, nor after its agent started", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const other = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), [machineId]);

  const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
  cleanup.defer(() => work.cancel());
  assert.equal(work.machineId, machineId);
  assert.equal(work.machine?.providerId, `eq-${machineId}`);

  // While the work runs, the workflow offers nothing, to any session.
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), []);
  await assert.rejects(other.work(Process.ShepherdAgentStart, forAgentStart), NothingToDoError);
  assert.deepEqual(await select(t, "SELECT machine_id, session_id, process FROM work"), [
    { machine_id: machineId, session_id: session.sessionId, process: Process.ShepherdAgentStart },
  ]);

  await work.finish((q) => agentStarted(q, work.machineId));

  // The agent started: the machine stays out of the workflow.
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), []);
  await assert.rejects(other.work(Process.ShepherdAgentStart, forAgentStart), NothingToDoError);
  assert.deepEqual(await select(t, "SELECT machine_id FROM machine_agent_started"), [{ machine_id: machineId }]);
  assert.deepEqual(await select(t, "SELECT * FROM work"), []);
  assert.deepEqual(await eventsOf(t.bmdb, machineId, Process.ShepherdAgentStart), [
    ["Started", session.sessionId],
    ["Finished", session.sessionId],
  ]);
});

bmdbTest("agent start is not offered for a machine under recovery work", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const other = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const recovery = await session.work(Process.ShepherdRecovery, () => Promise.resolve([machineId]));
  cleanup.defer(() => recovery.cancel());

  assert.deepEqual(await eligibleForAgentStart(t.bmdb), []);
  await assert.rejects(other.work(Process.ShepherdAgentStart, forAgentStart), NothingToDoError);
  await recovery.cancel();
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), [machineId]);
});

bmdbTest("agent start and recovery exclude each other on a machine also when claimed by id", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const one = await openSession(t.bmdb, cleanup);
  const two = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(one, 1);
  const thisMachine = () => Promise.resolve([machineId]);

  const agentStart = await one.work(Process.ShepherdAgentStart, thisMachine);
  cleanup.defer(() => agentStart.cancel());
  await assert.rejects(
    two.work(Process.ShepherdRecovery, thisMachine),
    isConflictOn(machineId, Process.ShepherdRecovery),
  );
  await agentStart.cancel();

  const recovery = await two.work(Process.ShepherdRecovery, thisMachine);
  cleanup.defer(() => recovery.cancel());
  await assert.rejects(
    one.work(Process.ShepherdAgentStart, thisMachine),
    isConflictOn(machineId, Process.ShepherdAgentStart),
  );
});

bmdbTest("three workers take six machines, all three busy at once, each machine once", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const machines = await addMachines(await openSession(t.bmdb, cleanup), 6);

  // The barrier opens only when three workers hold work at the same moment;
  // no worker finishes before it opens, so the first three claims overlap.
  let busy = 0;
  const allBusy = Promise.withResolvers<void>();
  const giveUp = new AbortController();
  const stop = AbortSignal.any([giveUp.signal, AbortSignal.timeout(10_000)]);
  const barrier = Promise.race([
    allBusy.promise,
    aborted(stop).then(() => Promise.reject(new Error(`only ${busy} workers held work at once`))),
  ]);
  barrier.catch(() => {}); // handled by the workers that await it
  let activeWhenAllBusy: unknown;
  const handled: { worker: number; machineId: string }[] = [];

  const worker = async (id: number) => {
    const session = await openSession(t.bmdb, cleanup);
    for (;;) {
      let work;
      try {
        work = await session.work(Process.ShepherdAgentStart, forAgentStart);
      } catch (error) {
        if (error instanceof NothingToDoError) return;
        throw error;
      }
      try {
        handled.push({ worker: id, machineId: work.machineId });
        if (++busy === 3 && activeWhenAllBusy === undefined) {
          activeWhenAllBusy = await select(t, "SELECT count(*)::int AS n FROM work");
          allBusy.resolve();
        }
        await barrier;
        await work.finish((q) => agentStarted(q, work.machineId));
      } finally {
        busy--;
        await work.cancel();
      }
    }
  };
  const failFast = async (id: number) => {
    try {
      await worker(id);
    } catch (error) {
      giveUp.abort(); // release the others from the barrier
      throw error;
    }
  };
  await Promise.all([0, 1, 2].map(failFast));

  assert.deepEqual(activeWhenAllBusy, [{ n: 3 }]);
  assert.equal(handled.length, 6);
  assert.deepEqual(handled.map((h) => h.machineId).sort(), [...machines].sort());
  assert.deepEqual(new Set(handled.map((h) => h.worker)), new Set([0, 1, 2]));
  for (const machineId of machines) {
    assert.deepEqual((await eventsOf(t.bmdb, machineId, Process.ShepherdAgentStart)).map(([e]) => e), [
      "Started",
      "Finished",
    ]);
  }
});

bmdbTest("eight sessions racing for forty machines finish each machine exactly once", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  // On PostgreSQL the sessions come from two components (two pools).
  const components = [t.bmdb, await t.openAnother({ component: "second" })];
  const machines = await addMachines(await openSession(t.bmdb, cleanup), 40);
  const held = new Set<string>();
  const finished: string[] = [];

  const worker = async (id: number) => {
    const session = await openSession(components[id % components.length], cleanup);
    // Half claim with the workflow query composed into the claim, half with rows awaited in a transaction.
    const claim = id % 4 < 2
      ? () => session.work(Process.ShepherdAgentStart, forAgentStart)
      : () => session.work(Process.ShepherdAgentStart, async (q) => await forAgentStart(q));
    for (;;) {
      let work;
      try {
        work = await claim();
      } catch (error) {
        if (error instanceof NothingToDoError) return;
        throw error;
      }
      try {
        assert.ok(!held.has(work.machineId), `machine ${work.machineId} was claimed while another worker held it`);
        held.add(work.machineId);
        await work.finish((q) => agentStarted(q, work.machineId));
        finished.push(work.machineId);
      } finally {
        held.delete(work.machineId);
        await work.cancel();
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, id) => worker(id)));

  assert.deepEqual([...finished].sort(), [...machines].sort());
  const finishedRows = await select(
    t,
    "SELECT machine_id, count(*)::int AS n FROM work_history WHERE event = 'Finished' GROUP BY machine_id",
  );
  assert.equal(finishedRows.length, 40);
  assert.ok(finishedRows.every((r) => r.n === 1), JSON.stringify(finishedRows.filter((r) => r.n !== 1)));
  // Each machine's history is one claim and one finish: never two claims at once.
  for (const machineId of machines) {
    assert.deepEqual((await eventsOf(t.bmdb, machineId, Process.ShepherdAgentStart)).map(([e]) => e), [
      "Started",
      "Finished",
    ]);
  }
  assert.deepEqual(await eligibleForAgentStart(t.bmdb), []);
  assert.deepEqual(await select(t, "SELECT * FROM work"), []);
});

bmdbTest("a crashed session's work blocks its machine only until its deadline", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const crash = new AbortController();
  const crashed = await openSession(t.bmdb, cleanup, { intervalSeconds: 2, signal: crash.signal });
  const survivor = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(survivor, 1);
  const thisMachine = () => Promise.resolve([machineId]);
  const startWork = await crashed.work(Process.ShepherdAgentStart, forAgentStart);
  const testWork = await crashed.work(Process.UnitTest1, thisMachine);
  cleanup.defer(() => startWork.cancel());
  cleanup.defer(() => testWork.cancel());
  assert.equal(startWork.machineId, machineId);

  crash.abort(new Error("simulated crash"));
  assert.ok(crashed.signal.aborted);
  // Its deadline is still ahead (at least half an interval): the machine stays taken.
  await assert.rejects(survivor.work(Process.ShepherdAgentStart, forAgentStart), NothingToDoError);
  await assert.rejects(survivor.work(Process.UnitTest1, thisMachine), isConflictOn(machineId, Process.UnitTest1));

  // Once the deadline passes, another session takes the work over, by workflow query and by id.
  const takeover = await waitFor(async () => {
    try {
      return await survivor.work(Process.ShepherdAgentStart, forAgentStart);
    } catch (error) {
      if (error instanceof NothingToDoError) return undefined;
      throw error;
    }
  }, { what: "the crashed session's machine to be offered again", intervalMs: 50 });
  cleanup.defer(() => takeover.cancel());
  assert.equal(takeover.machineId, machineId);
  const testTakeover = await survivor.work(Process.UnitTest1, thisMachine);
  cleanup.defer(() => testTakeover.cancel());

  for (const process of [Process.ShepherdAgentStart, Process.UnitTest1]) {
    assert.deepEqual(await eventsOf(t.bmdb, machineId, process), [
      ["Started", crashed.sessionId],
      ["Expired", crashed.sessionId],
      ["Started", survivor.sessionId],
    ]);
  }
  // Not a moment before the deadline: the takeover's Started is at or after it.
  const [{ deadline }] = await select(t, "SELECT session_deadline AS deadline FROM sessions WHERE session_id = $1", [
    crashed.sessionId,
  ]);
  const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
  const takenOver = history.filter((h) => h.event === "Started" && h.sessionId === survivor.sessionId);
  assert.equal(takenOver.length, 2);
  for (const started of takenOver) {
    assert.ok(started.timestamp >= (deadline as Date), `${started.timestamp} is before ${deadline}`);
  }

  await takeover.finish((q) => agentStarted(q, machineId));
  await testTakeover.finish(() => {});
  assert.deepEqual(await select(t, "SELECT * FROM work"), []);
});
