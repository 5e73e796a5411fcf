/**
 * The janitor on a real BMDB: a session dead longer than the grace period is
 * deleted and its work released as Expired; a recently dead one is left;
 * history past the retention goes, newer history stays; bad options are
 * refused.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { InvalidArgumentError, Process } from "../../bmdb/mod.ts";
import { Janitor } from "../../loops/mod.ts";
import { bmdbTest, countRows } from "../harness/bmdb.ts";
import { addMachines, forAgentStart } from "../harness/fleet.ts";
import { quietLogger } from "../harness/quiet_logger.ts";

bmdbTest("a pass reaps sessions dead past the grace period and prunes history past the retention", async (t) => {
  const setup = await t.bmdb.startSession();
  await addMachines(setup, 2);
  await setup.close();

  // Two crashed components (their signal aborted: rows left to expire), one holding work.
  const crash = new AbortController();
  const longDead = await t.bmdb.startSession({ signal: crash.signal });
  const work = await longDead.work(Process.ShepherdAgentStart, forAgentStart);
  const recentlyDead = await t.bmdb.startSession({ signal: crash.signal });
  crash.abort(new Error("crash"));
  await t.sql("UPDATE sessions SET session_deadline = now() - interval '10 minutes' WHERE session_id = $1", [
    longDead.sessionId,
  ]);
  await t.sql("UPDATE sessions SET session_deadline = now() - interval '1 minute' WHERE session_id = $1", [
    recentlyDead.sessionId,
  ]);
  // History: the Started row above is new; two old rows of another machine.
  await t.sql(
    `INSERT INTO work_history (machine_id, process, event, timestamp)
     VALUES ($1, 'ShepherdAgentStart', 'Started', now() - interval '40 days'),
            ($1, 'ShepherdAgentStart', 'Finished', now() - interval '31 days')`,
    [crypto.randomUUID()],
  );

  const registry = new Registry();
  const janitor = new Janitor(t.bmdb, {
    sessionGraceSeconds: 300,
    historyRetentionSeconds: 30 * 86400,
    registry,
    logger: quietLogger,
  });
  assert.deepEqual(await janitor.pass(), { sessions: 1, work: 1, history: 2 });

  const sessions = await t.sql("SELECT session_id FROM sessions");
  assert.deepEqual(sessions.map((r) => r.session_id), [recentlyDead.sessionId], "the recently dead one stays");
  const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId: work.machineId }));
  assert.deepEqual(history.map((h) => [h.event, h.sessionId]), [
    ["Started", longDead.sessionId],
    ["Expired", longDead.sessionId],
  ]);
  assert.equal(await countRows(t, "SELECT count(*) FROM work_history"), 2, "old history gone");
  const text = await registry.metrics();
  assert.match(text, /drover_janitor_sessions_reaped_total 1/);
  assert.match(text, /drover_janitor_history_pruned_total 2/);

  assert.deepEqual(await janitor.pass(), { sessions: 0, work: 0, history: 0 }, "a second pass finds nothing");
});

bmdbTest("pruning goes batch by batch until nothing past the retention is left", async (t) => {
  await t.sql(
    `INSERT INTO work_history (machine_id, process, event, timestamp)
     SELECT gen_random_uuid(), 'ShepherdAgentStart', 'Finished', now() - interval '2 days'
     FROM generate_series(1, 2500)`,
  );
  await t.sql(
    `INSERT INTO work_history (machine_id, process, event) VALUES (gen_random_uuid(), 'UnitTest1', 'Started')`,
  );
  assert.deepEqual(await t.bmdb.pruneHistory({ olderThanSeconds: 86400, batchSize: 1000 }), { deleted: 2500 });
  assert.equal(await countRows(t, "SELECT count(*) FROM work_history"), 1);
  await assert.rejects(t.bmdb.pruneHistory({ olderThanSeconds: 60 }), (e) => {
    assert.ok(e instanceof InvalidArgumentError);
    assert.match(e.message, /olderThanSeconds/);
    return true;
  });
});
