/**
 * Claims and commits of concurrent sessions share statements: each still gets
 * its own machine and its own outcome, as if it had run alone.
 *
 * @module
 */
import assert from "node:assert/strict";
import { NothingToDoError, Process } from "../../bmdb/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";
import { addMachines, agentStarted, forAgentStart, openSession } from "../harness/fleet.ts";

bmdbTest("concurrent claims share statements and each session gets a machine of its own", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const setup = await openSession(t.bmdb, cleanup);
  await addMachines(setup, 40);
  const sessions = await Promise.all(Array.from({ length: 12 }, () => openSession(t.bmdb, cleanup)));
  const before = t.bmdb.batches;

  const works = await Promise.all(sessions.map((s) => s.work(Process.ShepherdAgentStart, forAgentStart)));
  const after = t.bmdb.batches;

  const machines = new Set(works.map((w) => w.machineId));
  assert.equal(machines.size, 12, "every session holds a different machine");
  const rows = await t.sql("SELECT machine_id, session_id FROM work");
  assert.equal(rows.length, 12, "exactly one work row per claim, nothing leaked");
  for (const w of works) assert.equal(w.machine?.machineId, w.machineId);
  assert.ok(
    after.claims.batches - before.claims.batches < 12,
    `12 concurrent claims should need fewer than 12 statements, took ${after.claims.batches - before.claims.batches}`,
  );

  const commitsBefore = t.bmdb.batches.commits;
  await Promise.all(works.map((w) => w.finish((q) => agentStarted(q, w.machineId))));
  const commitsAfter = t.bmdb.batches.commits;
  assert.ok(commitsAfter.batches - commitsBefore.batches < 12, "12 concurrent commits should share statements");
  const started = await t.sql("SELECT count(*)::int AS n FROM machine_agent_started");
  assert.equal(started[0].n, 12);
  for (const w of works) {
    const events = (await t.bmdb.read((q) => q.listHistoryOf({ machineId: w.machineId }))).map((h) => h.event);
    assert.deepEqual(events, ["Started", "Finished"]);
  }
});

bmdbTest("claims that find the same machine in one batch walk on, so every session gets one", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const setup = await openSession(t.bmdb, cleanup);
  // As many sessions as machines: their random walks meet on the same machines
  // within a batch, and the ones that lose must walk on instead of giving up.
  await addMachines(setup, 6);
  const sessions = await Promise.all(Array.from({ length: 6 }, () => openSession(t.bmdb, cleanup)));

  const works = await Promise.all(sessions.map((s) => s.work(Process.ShepherdAgentStart, forAgentStart)));

  assert.equal(new Set(works.map((w) => w.machineId)).size, 6, "each machine goes to exactly one session");
  const rows = await t.sql("SELECT count(*)::int AS n FROM work");
  assert.equal(rows[0].n, 6);
  await assert.rejects(sessions[0].work(Process.ShepherdAgentStart, forAgentStart), NothingToDoError);
  await Promise.all(works.map((w) => w.cancel()));
});

bmdbTest("commits of one batch that write the same row still all commit, one by one", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const setup = await openSession(t.bmdb, cleanup);
  const [shared, ...held] = await addMachines(setup, 5);
  const sessions = await Promise.all(held.map(() => openSession(t.bmdb, cleanup)));
  const works = await Promise.all(
    sessions.map((s, i) => s.work(Process.UnitTest1, () => Promise.resolve([held[i]]))),
  );

  // Every finish also heartbeats the same machine: within one statement those upserts would meet on one row.
  await Promise.all(works.map((w) =>
    w.finish((q) => [
      q.machineSetAgentHeartbeat({ machineId: shared, agentHeartbeatAt: new Date() }),
      agentStarted(q, w.machineId),
    ])
  ));

  const heartbeats = await t.sql("SELECT count(*)::int AS n FROM machine_agent_heartbeat WHERE machine_id = $1", [
    shared,
  ]);
  assert.equal(heartbeats[0].n, 1);
  const started = await t.sql("SELECT count(*)::int AS n FROM machine_agent_started");
  assert.equal(started[0].n, 4, "every commit applied its own tag");
  const finished = await t.sql("SELECT count(*)::int AS n FROM work_history WHERE event = 'Finished'");
  assert.equal(finished[0].n, 4);
});
