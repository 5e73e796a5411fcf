/**
 * Work its session holds that the database no longer holds for it: after a
 * failover whose new primary never had the claim (asynchronous replication),
 * the session lives on but its work row is gone, and another session may
 * claim the machine. The heartbeat notices and stops the work, so the
 * machine is not worked twice for longer than a heartbeat.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Process, WorkCanceledError } from "../../bmdb/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";
import { addMachines, agentStarted, forAgentStart, openSession } from "../harness/fleet.ts";
import { aborted, waitFor, within } from "../harness/wait.ts";

/** With `intervalSeconds: 1` a heartbeat runs every 500 ms. */
const NOTICE_WITHIN_MS = 1500;

bmdbTest(
  "work whose row vanished (a failover lost the claim) is stopped at the next heartbeat, and its finish commits nothing",
  async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup, { intervalSeconds: 1 });
    const [machineId] = await addMachines(session, 1);
    const work = await session.work(Process.ShepherdAgentStart, forAgentStart);
    cleanup.defer(() => work.cancel());

    // Heartbeats while the row is there leave the work alone.
    const deadline = async () =>
      ((await t.sql("SELECT session_deadline FROM sessions WHERE session_id = $1", [session.sessionId]))[0]
        .session_deadline as Date).getTime();
    const before = await deadline();
    await waitFor(async () => (await deadline()) > before, { timeoutMs: 3_000, what: "a heartbeat" });
    assert.equal(work.signal.aborted, false, "a heartbeat stopped work its session still holds");

    // The claim is lost (as on a promoted standby that never had it), and another session claims the machine.
    await t.sql("UPDATE work_slot SET session_id = NULL, started_at = NULL WHERE machine_id = $1", [machineId]);
    const other = await openSession(t.bmdb, cleanup, { intervalSeconds: 60 });
    const taken = await other.work(Process.ShepherdAgentStart, forAgentStart);
    cleanup.defer(() => taken.cancel());
    assert.equal(taken.machineId, machineId);

    const reason = await within(aborted(work.signal), NOTICE_WITHIN_MS, "the lost work's signal");
    assert.ok(reason instanceof WorkCanceledError, `expected WorkCanceledError, got ${reason}`);
    assert.equal(reason.actor, null, "no operator canceled it");
    assert.equal(session.signal.aborted, false, "the session itself goes on");

    await assert.rejects(work.finish((q) => agentStarted(q, machineId)), WorkCanceledError);
    const started = await t.sql("SELECT machine_id FROM machine_agent_started WHERE machine_id = $1", [machineId]);
    assert.deepEqual([...started], [], "the lost work's finish committed nothing");
    const holders = await t.sql("SELECT session_id FROM work WHERE machine_id = $1", [machineId]);
    assert.deepEqual(holders.map((h) => h.session_id), [other.sessionId], "the other session still holds the machine");
  },
);
