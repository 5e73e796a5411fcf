/**
 * The admin event stream over HTTP on a real BMDB: a snapshot first, then a
 * change as it happens; a reconnect with Last-Event-ID replays what it
 * missed, or gets a snapshot when that is no longer held; keepalive
 * comments; a client that does not read is dropped, not buffered for.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Process } from "../../bmdb/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";
import { startAdminServer } from "../harness/admin_server.ts";
import { addMachines, forAgentStart } from "../harness/fleet.ts";
import { openSse } from "../harness/sse.ts";
import { waitFor } from "../harness/wait.ts";

interface WorkList {
  total: number;
  rows: { machineId: string }[];
}

bmdbTest("a snapshot, then each change; a reconnect resumes from Last-Event-ID without a miss", async (t) => {
  await using s = await startAdminServer(t, { hub: { keepaliveMs: 100 } });
  const session = await t.bmdb.startSession();
  try {
    const [a, b] = await addMachines(session, 2);
    await waitFor(() => (s.hub.snapshot().counts as { machines: number } | undefined)?.machines === 2, {
      what: "the feed counting the machines",
    });
    await using first = await openSse(`${s.url}/api/v1/events`, s.auth());
    const snapshot = await first.next();
    assert.equal(snapshot.event, "snapshot");
    const state = JSON.parse(snapshot.data!);
    assert.deepEqual(Object.keys(state).sort(), [
      "backoffs",
      "counts",
      "provisioner",
      "reservations",
      "sessions",
      "work",
    ]);
    assert.equal(state.counts.machines, 2);

    const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([a]));
    const changed = await first.next((f) => f.event === "work" && (JSON.parse(f.data!) as WorkList).total === 1);
    assert.deepEqual((JSON.parse(changed.data!) as WorkList).rows.map((r) => r.machineId), [a]);
    assert.ok(Number(changed.id) > Number(snapshot.id));
    assert.equal((await first.next((f) => f.comment !== undefined)).comment, "keepalive");
    await first.close();

    // While disconnected: the work ends and another starts.
    await work.cancel();
    const second = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([b]));
    await waitFor(() => {
      const w = s.hub.snapshot().work as WorkList | undefined;
      return w?.rows[0]?.machineId === b;
    }, { what: "the hub seeing the second work" });

    await using resumed = await openSse(`${s.url}/api/v1/events`, { ...s.auth(), "last-event-id": changed.id! });
    const replayed = await resumed.next((f) =>
      f.event === "work" && (JSON.parse(f.data!) as WorkList).rows[0]?.machineId === b
    );
    assert.ok(Number(replayed.id) > Number(changed.id), "replayed, not a snapshot");
    await second.cancel();
  } finally {
    await session.close();
  }
});

bmdbTest("a Last-Event-ID older than the replay buffer gets a snapshot", async (t) => {
  await using s = await startAdminServer(t, { hub: { replayLimit: 2 } });
  const session = await t.bmdb.startSession();
  try {
    await addMachines(session, 3);
    for (let i = 0; i < 3; i++) {
      const w = await session.work(Process.ShepherdAgentStart, forAgentStart);
      await w.cancel();
    }
    await waitFor(() => s.hub.snapshot().work !== undefined, { what: "events" });
    await using stream = await openSse(`${s.url}/api/v1/events`, { ...s.auth(), "last-event-id": "1" });
    assert.equal((await stream.next()).event, "snapshot");
  } finally {
    await session.close();
  }
});

bmdbTest("a client that does not read is dropped instead of buffered for", async (t) => {
  await using s = await startAdminServer(t, { hub: { maxQueuedEvents: 2 } });
  const controller = new AbortController();
  const response = await fetch(`${s.url}/api/v1/events`, { headers: s.auth(), signal: controller.signal });
  assert.equal(response.status, 200);
  // It never reads: big events fill the sockets' buffers, then its queue of 2.
  const big = Array.from({ length: 2000 }, (_, i) => ({
    id: `r-${i}`,
    plan: "x".repeat(200),
    metro: "sv",
    provisionable: true,
    deviceId: null,
    readAt: new Date(i).toISOString(),
  }));
  await waitFor(() => {
    s.reservations.set(big.map((r) => ({ ...r, readAt: new Date().toISOString() })));
    return s.hub.dropped >= 1;
  }, { what: "the slow client dropped", timeoutMs: 10_000, intervalMs: 5 });
  assert.equal(s.hub.clients, 0);
  controller.abort();
  await response.body?.cancel().catch(() => {});
  // The stream ends for it, so an EventSource would reconnect.
});
