/**
 * The change feed: claimed work, backoffs, sessions and machines show up in
 * the feed's values and leave them again; a backoff or session that runs out
 * leaves them with no database change; the poll mode (CockroachDB's) does the
 * same on PostgreSQL and PGlite; a lost LISTEN connection and a PostgreSQL
 * restart lose no change; on PostgreSQL the work pool's claims and releases
 * notify after their commit, not from their transactions (a claim shows with
 * the history poll an hour away; one whose notification was lost shows by
 * the poll), while a cancel request and writers outside the BMDB notify from
 * their triggers.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import {
  type ActiveWork,
  type Bmdb,
  type BmdbCounts,
  type ChangeFeed,
  type ChangeFeedOptions,
  type FeedList,
  type FeedSession,
  InvalidArgumentError,
  type Logger,
  openBmdb,
  Process,
  type WorkBackoff,
} from "../../bmdb/mod.ts";
import { MemoryValue, type Value } from "../../event/mod.ts";
import { bmdbTest, testBmdb, testDrivers } from "../harness/bmdb.ts";
import { addMachines, agentStarted, byId, forAgentStart, openSession } from "../harness/fleet.ts";
import { waitFor } from "../harness/wait.ts";
import { startPostgres } from "../harness/postgres.ts";

const postgresOnly = testDrivers().filter((d) => d === "postgres");
const AGENT_START = Process.ShepherdAgentStart;

function memoryValues() {
  return {
    counts: new MemoryValue<BmdbCounts>(),
    sessions: new MemoryValue<FeedList<FeedSession>>(),
    activeWork: new MemoryValue<FeedList<ActiveWork>>(),
    backoffs: new MemoryValue<FeedList<WorkBackoff>>(),
  };
}
type Values = ReturnType<typeof memoryValues>;

/** Opens a feed into fresh memory values; `cleanup` closes it. */
async function openFeed(
  bmdb: Bmdb,
  cleanup: AsyncDisposableStack,
  options: Omit<ChangeFeedOptions<Values>, "values"> = {},
): Promise<ChangeFeed<Values>> {
  const feed = await bmdb.openChangeFeed({ values: memoryValues(), ...options });
  cleanup.defer(() => feed.close());
  return feed;
}

/** Waits until `value` holds something `predicate` accepts; on timeout, fails with the last value it held. */
async function until<T>(value: Value<T>, what: string, predicate: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const watcher = value.watch();
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), timeoutMs); // cleared below: no timer outlives the wait
  let last: T | undefined;
  try {
    return await watcher.get({ predicate: (v) => predicate(last = v), signal: timeout.signal });
  } catch (error) {
    if (!timeout.signal.aborted) throw error;
    throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
  } finally {
    clearTimeout(timer);
    watcher.close();
  }
}

const holds = (machineId: string) => (list: FeedList<{ machineId: string }>) =>
  list.rows.some((r) => r.machineId === machineId);
const lacks = (machineId: string) => (list: FeedList<{ machineId: string }>) => !holds(machineId)(list);

for (const mode of ["notify", "poll"] as const) {
  const options = mode === "poll" ? { mode, pollIntervalMs: 100 } : { mode };

  bmdbTest(`[${mode}] claimed work shows up in activeWork and leaves it when finished`, async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    const [machineId] = await addMachines(session, 1);
    const feed = await openFeed(t.bmdb, cleanup, options);
    assert.equal(feed.mode, mode);
    const initial = await until(feed.activeWork, "the first value", () => true);
    assert.deepEqual(initial, { total: 0, rows: [] });

    const work = await session.work(AGENT_START, forAgentStart);
    cleanup.defer(() => work.cancel());
    const shown = await until(feed.activeWork, "the claimed work", holds(machineId));
    assert.deepEqual(shown.rows, [{
      machineId,
      process: AGENT_START,
      sessionId: session.sessionId,
      component: "test",
      startedAt: shown.rows[0].startedAt,
      cancelRequestedAt: null,
      cancelRequestedBy: null,
    }]);
    assert.equal(shown.total, 1);
    assert.ok(shown.rows[0].startedAt instanceof Date);
    await until(feed.counts, "one active work in the counts", (c) => c.activeWork[AGENT_START] === 1);

    await work.finish((q) => agentStarted(q, machineId));
    assert.deepEqual(await until(feed.activeWork, "the finished work to leave", lacks(machineId)), {
      total: 0,
      rows: [],
    });
    await until(feed.counts, "no active work in the counts", (c) => c.activeWork[AGENT_START] === 0);
  });

  bmdbTest(`[${mode}] a failure's backoff shows up in backoffs and an operator's retry removes it`, async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    const [machineId] = await addMachines(session, 1);
    const feed = await openFeed(t.bmdb, cleanup, options);

    const work = await session.work(AGENT_START, byId(machineId));
    cleanup.defer(() => work.cancel());
    await work.fail({ initialSeconds: 3600, maximumSeconds: 3600, exponent: 2 }, "no answer");
    const shown = await until(feed.backoffs, "the backoff", holds(machineId));
    assert.equal(shown.total, 1);
    assert.equal(shown.rows[0].process, AGENT_START);
    assert.equal(shown.rows[0].cause, "no answer");
    assert.equal(shown.rows[0].lastIntervalSeconds, 3600);
    await until(feed.counts, "one active backoff", (c) => c.activeBackoffs[AGENT_START] === 1);
    await until(feed.activeWork, "the failed work to leave", lacks(machineId));

    await t.bmdb.retryMachine({ machineId, actor: "ops" });
    assert.deepEqual(await until(feed.backoffs, "the retried backoff to leave", lacks(machineId)), {
      total: 0,
      rows: [],
    });
    await until(feed.counts, "no active backoff", (c) => c.activeBackoffs[AGENT_START] === 0);
  });

  bmdbTest(`[${mode}] machines and sessions are counted and listed as they come and go`, async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const feed = await openFeed(t.bmdb, cleanup, options);
    const before = await until(feed.counts, "the first counts", () => true);
    assert.deepEqual(before, {
      machines: 0,
      liveSessions: 0,
      activeWork: { ShepherdAgentStart: 0, ShepherdRecovery: 0, PowerAction: 0 },
      activeBackoffs: { ShepherdAgentStart: 0, ShepherdRecovery: 0, PowerAction: 0 },
    });

    const session = await t.bmdb.startSession({ runtimeInfo: "feed test" });
    const listed = await until(feed.sessions, "the new session", (l) => l.total === 1);
    assert.deepEqual(listed.rows.map((s) => [s.sessionId, s.component, s.runtimeInfo, s.intervalSeconds]), [
      [session.sessionId, "test", "feed test", 5],
    ]);
    await addMachines(session, 3);
    await until(feed.counts, "3 machines and 1 live session", (c) => c.machines === 3 && c.liveSessions === 1);

    await session.close();
    await until(feed.sessions, "the closed session to leave", (l) => l.total === 0);
    await until(feed.counts, "no live session", (c) => c.liveSessions === 0);
  });
}

bmdbTest("PostgreSQL has the feed's triggers; PGlite has none (its driver reports changes)", async (t) => {
  const rows = await t.sql(`SELECT tgrelid::regclass::text AS t, tgname FROM pg_trigger
    WHERE NOT tgisinternal AND tgname LIKE '%notify%' ORDER BY 1, 2`);
  const want = t.driver === "postgres"
    ? [
      ["machines", "machines_notify_delete"],
      ["machines", "machines_notify_insert"],
      ["sessions", "sessions_notify_delete"],
      ["sessions", "sessions_notify_insert"],
      ["work_backoff", "work_backoff_notify"],
      ["work_slot", "work_slot_notify_insert_delete"],
      ["work_slot", "work_slot_notify_update"],
    ]
    : [];
  assert.deepEqual(rows.map((r) => [r.t, r.tgname]), want);
});

bmdbTest(
  "the work pool's claims, releases and backoffs call no change-feed trigger; a cancel request and others do",
  async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    const [machineId] = await addMachines(session, 1);
    const url = t.url ?? assert.fail("no PostgreSQL URL");
    // One connection set as the work pool's (bmdb/driver_postgres.ts), one as any other writer; both count calls of
    // PL/pgSQL functions (track_functions), which a transaction reads back before it ends.
    const pool = postgres(url, {
      max: 1,
      onnotice: () => {},
      connection: { "drover.work_changes_in_history": "on", track_functions: "pl" },
    });
    const other = postgres(url, { max: 1, onnotice: () => {}, connection: { track_functions: "pl" } });
    cleanup.defer(() => pool.end({ timeout: 1 }));
    cleanup.defer(() => other.end({ timeout: 1 }));
    const calls = async (tx: postgres.TransactionSql) =>
      (await tx`SELECT pg_stat_get_xact_function_calls('drover_notify_row_change'::regproc)::int AS n`)[0].n ?? 0;
    const where = (tx: postgres.TransactionSql) => tx`machine_id = ${machineId} AND process = ${AGENT_START}`;
    const sessionId = session.sessionId;

    const byPool = await pool.begin(async (tx) => {
      await tx`INSERT INTO work_slot (machine_id, process, session_id, started_at)
        VALUES (${machineId}, ${AGENT_START}, ${sessionId}, now())`;
      await tx`UPDATE work_slot SET session_id = NULL, started_at = NULL WHERE ${where(tx)}`;
      await tx`INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds)
        VALUES (${machineId}, ${AGENT_START}, now(), 'test', 1)`;
      await tx`DELETE FROM work_backoff WHERE ${where(tx)}`;
      const quiet = await calls(tx);
      await tx`UPDATE work_slot SET cancel_requested_by = 'ops' WHERE ${where(tx)}`; // keeps the holder
      return [quiet, await calls(tx)];
    });
    assert.deepEqual(byPool, [0, 1], "claim, release and backoff: no call; a cancel request: one");

    const byOther = await other.begin(async (tx) => {
      await tx`UPDATE work_slot SET session_id = ${sessionId} WHERE ${where(tx)}`;
      await tx`DELETE FROM work_slot WHERE ${where(tx)}`;
      return await calls(tx);
    });
    assert.equal(byOther, 2, "another writer's update and delete: one call each");
  },
  { drivers: postgresOnly },
);

bmdbTest("an operator's cancel request shows on the active work", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const feed = await openFeed(t.bmdb, cleanup);
  const work = await session.work(AGENT_START, byId(machineId));
  cleanup.defer(() => work.cancel());
  await until(feed.activeWork, "the claimed work", holds(machineId));

  await t.bmdb.requestWorkCancel({ machineId, process: AGENT_START, actor: "ops" });
  const shown = await until(feed.activeWork, "the cancel request", (l) => l.rows[0]?.cancelRequestedBy === "ops");
  assert.ok(shown.rows[0].cancelRequestedAt instanceof Date);
});

bmdbTest("a backoff that runs out stops being counted and listed, with no database change", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const feed = await openFeed(t.bmdb, cleanup);
  const work = await session.work(AGENT_START, byId(machineId));
  cleanup.defer(() => work.cancel());
  await work.fail({ initialSeconds: 1, maximumSeconds: 1, exponent: 1 }, "flaky");
  const { rows: [backoff] } = await until(feed.backoffs, "the 1-second backoff", holds(machineId));
  await until(feed.counts, "one active backoff", (c) => c.activeBackoffs[AGENT_START] === 1);

  // Nothing writes from here on: the feed re-reads when `until` passes.
  const counts = await until(feed.counts, "the backoff to run out", (c) => c.activeBackoffs[AGENT_START] === 0, 5_000);
  assert.equal(counts.machines, 1);
  assert.ok(Date.now() >= backoff.until.getTime() - 100, "counted out before its until");
  assert.deepEqual(await until(feed.backoffs, "the backoff to leave the list", lacks(machineId)), {
    total: 0,
    rows: [],
  });
  const rows = await t.sql(`SELECT count(*)::int AS n FROM work_backoff WHERE machine_id = $1`, [machineId]);
  assert.equal(rows[0].n, 1, "the backoff row is still there (it only ran out)");
});

bmdbTest("a session that dies at its deadline leaves sessions, and its work leaves activeWork", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const crash = new AbortController();
  const doomed = await t.bmdb.startSession({ intervalSeconds: 1, signal: crash.signal });
  const [machineId] = await addMachines(doomed, 1);
  const work = await doomed.work(AGENT_START, byId(machineId));
  const feed = await openFeed(t.bmdb, cleanup);
  await until(feed.activeWork, "the claimed work", holds(machineId));
  await until(feed.sessions, "the session", (l) => l.total === 1);

  crash.abort(new Error("simulated crash")); // heartbeats stop; the row stays until its deadline
  await until(feed.sessions, "the dead session to leave", (l) => l.total === 0, 5_000);
  await until(feed.activeWork, "its work to leave", lacks(machineId), 5_000);
  await until(feed.counts, "no live session or work", (c) => c.liveSessions === 0 && c.activeWork[AGENT_START] === 0);
  assert.equal(work.signal.aborted, true);
});

bmdbTest("lists hold the first listLimit rows and a total of all", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const machines = await addMachines(session, 3);
  const feed = await openFeed(t.bmdb, cleanup, { listLimit: 2 });
  for (const [i, machineId] of machines.entries()) {
    const work = await session.work(AGENT_START, byId(machineId));
    await work.fail({ initialSeconds: 600 + i * 60, maximumSeconds: 3600, exponent: 2 }, `failure ${i + 1}`);
  }
  const backoffs = await until(feed.backoffs, "3 backoffs", (l) => l.total === 3);
  assert.deepEqual(backoffs.rows.map((b) => b.cause), ["failure 1", "failure 2"], "the soonest to run out first");
  await until(feed.counts, "3 active backoffs", (c) => c.activeBackoffs[AGENT_START] === 3);
});

bmdbTest("openChangeFeed rejects bad options with InvalidArgumentError, opening nothing", async (t) => {
  const bad: [string, unknown][] = [
    ["values.counts", { values: { ...memoryValues(), counts: {} } }],
    ["mode", { values: memoryValues(), mode: "push" }],
    ["listLimit", { values: memoryValues(), listLimit: 0 }],
    ["minRefreshIntervalMs", { values: memoryValues(), minRefreshIntervalMs: -1 }],
  ];
  for (const [field, options] of bad) {
    await assert.rejects(t.bmdb.openChangeFeed(options as ChangeFeedOptions<Values>), (error) => {
      assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error}`);
      assert.equal(error.field, field);
      return true;
    });
  }
});

for (const mode of ["notify", "poll"] as const) {
  // With Deno's sanitizers on (opt-in since Deno 2.8): a timer, poll or listener left running fails the test.
  Deno.test({
    name: `[${mode}] closing the Bmdb stops its change feed, leaving nothing running [pglite]`,
    sanitizeOps: true,
    sanitizeResources: true,
  }, async () => {
    await using t = await testBmdb("pglite");
    const feed = await t.bmdb.openChangeFeed({ values: memoryValues(), mode, pollIntervalMs: 50 });
    const session = await t.bmdb.startSession({ intervalSeconds: 1 });
    const [machineId] = await addMachines(session, 1);
    const work = await session.work(AGENT_START, byId(machineId));
    await work.fail({ initialSeconds: 3600, maximumSeconds: 3600, exponent: 2 }, "arms the expiry timer");
    await until(feed.backoffs, "the backoff", holds(machineId));
    await until(feed.sessions, "the session", (l) => l.total === 1);
    await t.bmdb.close();
    await feed.close(); // idempotent, and already done
  });
}

if (postgresOnly.length > 0) {
  const logged: string[] = [];
  const logger: Logger = { debug() {}, info: (m) => logged.push(m), warn: (m) => logged.push(m), error() {} };

  bmdbTest(
    "the work pool notifies after its commits, not from its transactions; a cancel and others notify from triggers",
    async (t) => {
      await using cleanup = new AsyncDisposableStack();
      const listener = postgres(t.url ?? assert.fail("no PostgreSQL URL"), { max: 1, onnotice: () => {} });
      cleanup.defer(() => listener.end({ timeout: 1 }));
      // The doorbell's payloads (a table's name alone, sent after a commit of the work pool) apart from the rest.
      const rung = new Set<string>();
      const received: string[] = [];
      const arrivals = new EventTarget();
      await listener.listen("drover_bmdb_change", (payload) => {
        if (payload === "work_slot" || payload === "work_backoff") rung.add(payload);
        else received.push(payload);
        arrivals.dispatchEvent(new Event("payload"));
      });
      /** Waits until `done()` holds after a payload arrives; fails naming `what` after 5 s. */
      const arrival = (what: string, done: () => boolean) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            arrivals.removeEventListener("payload", check);
            reject(new Error(`no ${what} within 5 s; rung: ${[...rung]}, received: ${received}`));
          }, 5_000);
          const check = () => {
            if (!done()) return;
            clearTimeout(timer);
            arrivals.removeEventListener("payload", check);
            resolve();
          };
          arrivals.addEventListener("payload", check);
          check();
        });
      /** Sends `marker` (after everything before it committed) and returns what arrived before it, in order. */
      const upTo = async (marker: string): Promise<string[]> => {
        const arrived = arrival(marker, () => received.includes(marker));
        await t.sql(`SELECT pg_notify('drover_bmdb_change', $1)`, [marker]);
        await arrived;
        const before = received.splice(0, received.indexOf(marker) + 1);
        return before.slice(0, -1);
      };
      const session = await openSession(t.bmdb, cleanup);
      const [machineId] = await addMachines(session, 1);
      assert.deepEqual(await upTo("marker:setup"), ["sessions", "machines"]); // cold tables notify as before
      assert.deepEqual([...rung], []);

      // A claim, a finish, a claim and a failure (a backoff): each writes history, none notifies from its
      // transaction, and the driver rings for both tables once they committed.
      const work = await session.work(AGENT_START, forAgentStart);
      await work.finish((q) => agentStarted(q, machineId));
      await t.sql(`DELETE FROM machine_agent_started`);
      const again = await session.work(AGENT_START, forAgentStart);
      await again.fail({ initialSeconds: 60, maximumSeconds: 60, exponent: 1 }, "test");
      assert.deepEqual(await upTo("marker:work"), []);
      await arrival("doorbell for work_slot and work_backoff", () => rung.has("work_slot") && rung.has("work_backoff"));
      const events = await t.sql(`SELECT event FROM work_history WHERE machine_id = $1 ORDER BY history_id`, [
        machineId,
      ]);
      assert.deepEqual(events.map((e) => e.event), ["Started", "Finished", "Started", "Failed"]);

      // An operator's cancel request on live work writes no history: it notifies.
      await t.sql(`DELETE FROM work_backoff`); // a writer outside the BMDB: notifies
      assert.deepEqual(await upTo("marker:outside"), [`work_backoff:${machineId}`]);
      rung.clear();
      const third = await session.work(AGENT_START, forAgentStart);
      cleanup.defer(() => third.cancel());
      assert.deepEqual(await upTo("marker:claimed"), []);
      await arrival("doorbell for work_slot", () => rung.has("work_slot"));
      await t.bmdb.requestWorkCancel({ machineId, process: AGENT_START, actor: "operator" });
      assert.deepEqual(await upTo("marker:cancel"), [`work_slot:${machineId}`]);
    },
    { drivers: postgresOnly },
  );

  bmdbTest("claims and finishes show in the feed with the history poll an hour away (the doorbell)", async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    const machineIds = await addMachines(session, 3);
    const feed = await openFeed(t.bmdb, cleanup, { historyPollIntervalMs: 600_000, resyncIntervalMs: 3_600_000 });
    // Three rounds: the re-reads that opening the feed set off may still catch the first.
    for (const machineId of machineIds) {
      const work = await session.work(AGENT_START, byId(machineId));
      await until(feed.activeWork, "the claimed machine", holds(machineId), 5_000);
      await work.finish((q) => agentStarted(q, machineId));
      await until(feed.activeWork, "the finished machine gone", lacks(machineId), 5_000);
    }
  }, { drivers: postgresOnly });

  bmdbTest("claims and releases whose notification was lost with their process show by the history poll", async (t) => {
    await using cleanup = new AsyncDisposableStack();
    const session = await openSession(t.bmdb, cleanup);
    const machineIds = await addMachines(session, 3);
    const feed = await openFeed(t.bmdb, cleanup, { historyPollIntervalMs: 100, resyncIntervalMs: 3_600_000 });
    // Written as the work pool writes (its triggers send nothing), by a process that died before ringing.
    const pool = postgres(t.url ?? assert.fail("no PostgreSQL URL"), {
      max: 1,
      onnotice: () => {},
      connection: { "drover.work_changes_in_history": "on" },
    });
    cleanup.defer(() => pool.end({ timeout: 1 }));
    const process = AGENT_START, sessionId = session.sessionId;
    // Three rounds: the re-reads that opening the feed set off may still catch the first.
    for (const machineId of machineIds) {
      await pool.begin(async (tx) => {
        await tx`INSERT INTO work_slot (machine_id, process, session_id, started_at)
          VALUES (${machineId}, ${process}, ${sessionId}, now())`;
        await tx`INSERT INTO work_history (machine_id, process, event, session_id)
          VALUES (${machineId}, ${process}, 'Started', ${sessionId})`;
      });
      await until(feed.activeWork, "the claim nobody announced", holds(machineId), 5_000);
      await pool.begin(async (tx) => {
        await tx`UPDATE work_slot SET session_id = NULL, started_at = NULL
          WHERE machine_id = ${machineId} AND process = ${process}`;
        await tx`INSERT INTO work_history (machine_id, process, event, session_id)
          VALUES (${machineId}, ${process}, 'Finished', ${sessionId})`;
      });
      await until(feed.activeWork, "the release nobody announced", lacks(machineId), 5_000);
    }
  }, { drivers: postgresOnly });

  bmdbTest("a change made while the LISTEN connection is down is not lost", async (t) => {
    logged.length = 0;
    await using cleanup = new AsyncDisposableStack();
    const feed = await openFeed(t.bmdb, cleanup);
    assert.equal(feed.mode, "notify");
    await until(feed.counts, "the first counts", (c) => c.machines === 0);

    // Refuse new connections to this database, terminate the listener and wait until it is gone, then add a
    // machine (on a connection already open): its NOTIFY reaches nobody, and the listener cannot be back yet.
    const [{ db }] = await t.sql(`SELECT current_database() AS db`);
    const adminUrl = new URL(t.url ?? assert.fail("no PostgreSQL URL"));
    adminUrl.pathname = "/postgres"; // a database cannot refuse connections from inside itself
    const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
    cleanup.defer(() => admin.end({ timeout: 1 }));
    await admin.unsafe(`ALTER DATABASE "${db}" WITH ALLOW_CONNECTIONS false`);
    try {
      const [{ n }] = await t.sql(`SELECT count(pg_terminate_backend(pid, 5000))::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND query ILIKE 'listen %'`);
      assert.equal(n, 1, "no LISTEN connection to terminate");
      await t.sql(`INSERT INTO machines DEFAULT VALUES`);
    } finally {
      await admin.unsafe(`ALTER DATABASE "${db}" WITH ALLOW_CONNECTIONS true`);
    }
    await until(feed.counts, "the machine added while the listener was down", (c) => c.machines === 1);
    // The history poll may show the change before the listener is back (under load it takes longer): wait for it.
    await waitFor(() => logged.includes("change feed listening again; reading everything"), {
      what: "the change feed's LISTEN connection back",
    });

    // And the new LISTEN connection gets notifications again.
    await t.sql(`INSERT INTO machines DEFAULT VALUES`);
    await until(feed.counts, "the machine added after it came back", (c) => c.machines === 2);
  }, { drivers: postgresOnly, bmdb: { logger } });

  Deno.test({
    name: "a PostgreSQL restart loses no change: one made before the feed's LISTEN is back shows up [postgres]",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await using server = await startPostgres();
      await using cleanup = new AsyncDisposableStack();
      // The BMDB connects as role drover; the test writes as postgres, so it can keep drover out for a while.
      const raw = postgres(server.url(), { max: 1, onnotice: () => {} });
      cleanup.defer(() => raw.end({ timeout: 1 }));
      await raw.unsafe(`CREATE ROLE drover LOGIN`);
      await raw.unsafe(`CREATE DATABASE drover OWNER drover`);
      const url = `postgres://drover@${server.host}:${server.port}/drover`;
      logged.length = 0;
      const bmdb = await openBmdb({ component: "test", databaseUrl: url, logger });
      cleanup.defer(() => bmdb.close());
      const db = postgres(server.url("drover"), { max: 1, onnotice: () => {} });
      cleanup.defer(() => db.end({ timeout: 1 }));
      const feed = await openFeed(bmdb, cleanup);
      await db`INSERT INTO machines DEFAULT VALUES`;
      await until(feed.counts, "the first machine", (c) => c.machines === 1);

      // Restart with drover locked out, add a machine, let drover back in: only a re-read after the
      // re-LISTEN can see that machine.
      await raw.unsafe(`ALTER ROLE drover NOLOGIN`);
      try {
        await server.restart({ downMs: 500 });
        await db`INSERT INTO machines DEFAULT VALUES`;
      } finally {
        await raw.unsafe(`ALTER ROLE drover LOGIN`);
      }
      await until(feed.counts, "the machine added right after the restart", (c) => c.machines === 2, 30_000);
      assert.ok(logged.includes("change feed listening again; reading everything"), `logged: ${logged}`);

      // The feed follows changes again, claims included.
      const session = await openSession(bmdb, cleanup);
      const [machineId] = await addMachines(session, 1);
      const work = await session.work(AGENT_START, byId(machineId));
      cleanup.defer(() => work.cancel());
      await until(feed.activeWork, "work claimed after the restart", holds(machineId));
    },
  });
}
