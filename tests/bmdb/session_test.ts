import assert from "node:assert/strict";
import postgres from "postgres";
import { type Bmdb, type Logger, openBmdb, Process, type Session, SessionExpiredError } from "../../bmdb/mod.ts";
import { bmdbTest, testDrivers } from "../harness/bmdb.ts";
import { type PostgresServer, startPostgres } from "../harness/postgres.ts";
import { aborted, waitFor, within } from "../harness/wait.ts";

type Sql = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

const postgresOnly = testDrivers().filter((d) => d === "postgres");

/** The session's row as the database sees it, or undefined when it is gone. */
async function sessionRow(sql: Sql, sessionId: string): Promise<{ deadline: number; alive: boolean } | undefined> {
  const rows = await sql(
    `SELECT session_deadline, session_deadline > now() AS alive FROM sessions WHERE session_id = $1`,
    [sessionId],
  );
  if (rows.length === 0) return undefined;
  return { deadline: (rows[0].session_deadline as Date).getTime(), alive: rows[0].alive as boolean };
}

/**
 * Waits until a heartbeat moves the session's deadline past `after`; returns
 * the new deadline. Fails at once if the session expires meanwhile.
 */
function nextDeadline(sql: Sql, session: Session, after: number, timeoutMs: number): Promise<number> {
  return waitFor(async () => {
    if (session.signal.aborted) throw new Error(`the session expired: ${session.signal.reason}`);
    const row = await sessionRow(sql, session.sessionId);
    return row !== undefined && row.deadline > after && row.deadline;
  }, { timeoutMs, what: "a heartbeat to move the session's deadline" });
}

function isExpired(sessionId: string) {
  return (error: unknown) => {
    assert.ok(error instanceof SessionExpiredError, `expected SessionExpiredError, got ${error}`);
    assert.equal(error.sessionId, sessionId);
    return true;
  };
}

/** A BMDB on a PostgreSQL server of its own (to restart), with the warnings it logged. */
interface OwnPostgres extends AsyncDisposable {
  server: PostgresServer;
  bmdb: Bmdb;
  sql: Sql;
  warnings: { message: string; at: number }[];
}

async function ownPostgres(): Promise<OwnPostgres> {
  const server = await startPostgres();
  const warnings: { message: string; at: number }[] = [];
  const record = (message: string) => warnings.push({ message, at: performance.now() });
  const logger: Logger = { debug() {}, info() {}, warn: record, error: record };
  const raw = postgres(server.url(), { max: 1, onnotice: () => {} });
  let bmdb: Bmdb;
  try {
    bmdb = await openBmdb({ component: "test", databaseUrl: server.url(), logger });
  } catch (error) {
    await raw.end({ timeout: 1 });
    await server.stop();
    throw error;
  }
  return {
    server,
    bmdb,
    warnings,
    sql: (text, params = []) => raw.unsafe(text, params as postgres.ParameterOrJSON<never>[]),
    async [Symbol.asyncDispose]() {
      await bmdb.close().catch(() => {});
      await raw.end({ timeout: 1 }).catch(() => {});
      await server.stop();
    },
  };
}

if (postgresOnly.length > 0) {
  Deno.test("a heartbeat rides out a PostgreSQL restart shorter than the session interval", async () => {
    await using pg = await ownPostgres();
    // Heartbeats every 4 s, retried every second until 8 s after the last good one.
    const session = await pg.bmdb.startSession({ intervalSeconds: 8 });
    try {
      const first = (await sessionRow(pg.sql, session.sessionId))!.deadline;
      const beforeRestart = await nextDeadline(pg.sql, session, first, 6_000);
      // The next heartbeat is due within 4 s, while the server is down (4 s plus the stop and start).
      const downAt = performance.now();
      await pg.server.restart({ downMs: 4_000 });
      const upAt = performance.now();
      assert.ok(upAt - downAt < 7_000, `the restart took ${Math.round(upAt - downAt)} ms, not clearly under 8 s`);

      const afterRestart = await nextDeadline(pg.sql, session, beforeRestart, 8_000);
      const failed = pg.warnings.filter((w) => w.message === "heartbeat failed; retrying" && w.at < upAt);
      assert.ok(failed.length >= 1, "no heartbeat was attempted while the server was down");
      assert.equal(session.signal.aborted, false, `the session expired: ${session.signal.reason}`);
      assert.ok(afterRestart > beforeRestart);
      assert.equal((await sessionRow(pg.sql, session.sessionId))!.alive, true);

      const machineId = await session.transact(async (q) => (await q.newMachine()).machineId);
      const rows = await pg.sql(`SELECT count(*)::int AS n FROM machines WHERE machine_id = $1`, [machineId]);
      assert.equal(rows[0].n, 1);
    } finally {
      await session.close();
    }
  });

  Deno.test("a PostgreSQL outage longer than the interval expires the session locally at its deadline", async () => {
    await using pg = await ownPostgres();
    const session = await pg.bmdb.startSession({ intervalSeconds: 2 });
    // After one good heartbeat (every second), the server goes down for longer than the 2 s interval.
    const first = (await sessionRow(pg.sql, session.sessionId))!.deadline;
    await nextDeadline(pg.sql, session, first, 3_000);
    let restarted = false;
    const restart = pg.server.restart({ downMs: 5_000 }).finally(() => restarted = true);
    try {
      const reason = await within(aborted(session.signal), 4_000, "local expiry while the server is down");
      const expiredAt = Date.now();
      assert.equal(restarted, false, "the session expired only after the server was back");
      assert.ok(isExpired(session.sessionId)(reason));
      await restart;

      // It gave up at the deadline the database holds: not at the first failed heartbeat, and not later.
      const row = await sessionRow(pg.sql, session.sessionId);
      assert.ok(row, "the session row is gone");
      assert.equal(row.alive, false);
      assert.ok(expiredAt <= row.deadline + 500, `expired ${expiredAt - row.deadline} ms after the deadline`);
      assert.ok(expiredAt >= row.deadline - 500, `expired ${row.deadline - expiredAt} ms before the deadline`);
      await assert.rejects(session.transact((q) => q.newMachine()), isExpired(session.sessionId));
    } finally {
      await restart.catch(() => {});
      await session.close();
    }
  });
}

bmdbTest(
  "aborting the caller's signal acts as a crash: the row stays until its deadline and every later call rejects",
  async ({ bmdb, sql }) => {
    const crash = new AbortController();
    const session = await bmdb.startSession({ intervalSeconds: 2, signal: crash.signal });
    const id = session.sessionId;
    const [a, b, c] = await session.transact(async (q) => [
      (await q.newMachine()).machineId,
      (await q.newMachine()).machineId,
      (await q.newMachine()).machineId,
    ]);
    const [workA, workB, workC] = [
      await session.work(Process.UnitTest1, () => Promise.resolve([a])),
      await session.work(Process.UnitTest1, () => Promise.resolve([b])),
      await session.work(Process.UnitTest1, () => Promise.resolve([c])),
    ];

    const reason = new Error("simulated crash");
    crash.abort(reason);
    assert.equal(await aborted(session.signal), reason);
    assert.equal(workA.signal.aborted, true);

    // Locally over at once, though the database still counts it alive.
    assert.equal((await sessionRow(sql, id))?.alive, true);
    await assert.rejects(session.transact((q) => q.newMachine()), isExpired(id));
    await assert.rejects(session.work(Process.UnitTest2, () => Promise.resolve([a])), isExpired(id));
    await assert.rejects(workA.finish(() => {}), isExpired(id));
    await assert.rejects(workB.fail({ initialSeconds: 1, maximumSeconds: 1, exponent: 1 }, "x"), isExpired(id));
    assert.equal(await workC.cancel(), undefined);
    assert.equal(await workC.cancel(), undefined);

    // No more heartbeats: the deadline passes, and the row (with its work) stays for others to see expire.
    await waitFor(async () => (await sessionRow(sql, id))?.alive === false, {
      timeoutMs: 5_000,
      what: "the crashed session's deadline to pass",
    });
    assert.ok(await sessionRow(sql, id), "the crashed session's row was deleted");
    const held = await sql(`SELECT machine_id FROM work WHERE session_id = $1 ORDER BY machine_id`, [id]);
    assert.deepEqual(held.map((r) => r.machine_id), [a, b, c].sort());
    const events = await sql(`SELECT event FROM work_history ORDER BY history_id`);
    assert.deepEqual(events.map((r) => r.event), ["Started", "Started", "Started"]);
  },
);

bmdbTest("startSession with an already aborted signal rejects at once and writes no session", async ({ bmdb, sql }) => {
  const reason = new Error("shutting down");
  const startedAt = performance.now();
  await assert.rejects(bmdb.startSession({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
  assert.ok(performance.now() - startedAt < 500, "startSession did not reject at once");
  const rows = await sql(`SELECT count(*)::int AS n FROM sessions`);
  assert.equal(rows[0].n, 0);
});

bmdbTest("deleting a session's row expires the session at its next heartbeat", async ({ bmdb, sql }) => {
  const session = await bmdb.startSession({ intervalSeconds: 2 });
  try {
    await sql(`DELETE FROM sessions WHERE session_id = $1`, [session.sessionId]);
    // Heartbeats run every second; a session that ignored the missing row would never expire.
    const reason = await within(aborted(session.signal), 2_500, "expiry after the row was deleted");
    assert.ok(isExpired(session.sessionId)(reason));
    await assert.rejects(session.transact((q) => q.newMachine()), isExpired(session.sessionId));
    const rows = await sql(`SELECT count(*)::int AS n FROM machines`);
    assert.equal(rows[0].n, 0);
  } finally {
    await session.close();
  }
});

bmdbTest("close() deletes the session row, is idempotent, and later calls reject", async ({ bmdb, sql }) => {
  const session = await bmdb.startSession();
  const id = session.sessionId;
  const [a, b] = await session.transact(async (
    q,
  ) => [(await q.newMachine()).machineId, (await q.newMachine()).machineId]);
  const workA = await session.work(Process.UnitTest1, () => Promise.resolve([a]));
  const workB = await session.work(Process.UnitTest1, () => Promise.resolve([b]));

  await Promise.all([session.close(), session.close()]);
  await session.close();

  assert.equal(await sessionRow(sql, id), undefined);
  assert.ok(isExpired(id)(session.signal.reason));
  await assert.rejects(session.transact((q) => q.newMachine()), isExpired(id));
  await assert.rejects(session.work(Process.UnitTest2, () => Promise.resolve([a])), isExpired(id));
  await assert.rejects(workA.finish(() => {}), isExpired(id));
  assert.equal(await workB.cancel(), undefined);
  assert.equal(await workB.cancel(), undefined);

  // close() released both as Canceled; nothing after it wrote anything.
  for (const machineId of [a, b]) {
    const history = await bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => h.event), ["Started", "Canceled"]);
  }
  const machines = await sql(`SELECT count(*)::int AS n FROM machines`);
  assert.equal(machines[0].n, 2);
});

bmdbTest("transact with a forgotten await commits nothing and names the query", async ({ bmdb, sql }) => {
  const session = await bmdb.startSession();
  try {
    const forgotten = (e: unknown) => {
      assert.ok(e instanceof TypeError, `expected TypeError, got ${e}`);
      assert.match(e.message, /q\.newMachine\(\.\.\.\) was called but never awaited/);
      assert.match(e.message, /nothing was committed/);
      return true;
    };
    await assert.rejects(
      session.transact(async (q) => {
        await q.newMachine();
        q.newMachine();
      }),
      forgotten,
    );
    await assert.rejects(
      session.transact((q) => {
        q.newMachine();
      }),
      forgotten,
    );
    assert.equal((await sql(`SELECT count(*)::int AS n FROM machines`))[0].n, 0);

    // The session is unharmed: a query returned from the function runs and commits.
    await session.transact((q) => q.newMachine());
    assert.equal((await sql(`SELECT count(*)::int AS n FROM machines`))[0].n, 1);
  } finally {
    await session.close();
  }
});

bmdbTest(
  "transact runs again after a serialization failure, so both sides of a write skew commit",
  async ({ bmdb, sql }) => {
    const session = await bmdb.startSession();
    try {
      // Each transaction counts the machines, then adds one: each reads what the other writes.
      const attempts = [0, 0];
      let readers = 0;
      let bothRead!: () => void;
      const barrier = new Promise<void>((resolve) => bothRead = resolve);
      const countThenAdd = (i: number) =>
        session.transact(async (q) => {
          attempts[i]++;
          const seen = await q.countMachines();
          if (attempts[i] === 1) {
            if (++readers === 2) bothRead();
            await barrier;
          }
          await q.newMachine();
          return seen;
        });

      const seen = await within(Promise.all([countThenAdd(0), countThenAdd(1)]), 10_000, "both transactions");
      // As if one ran after the other: the retried one saw the first one's machine.
      assert.deepEqual(seen.sort(), [0, 1]);
      assert.ok(bmdb.counters.transactionRetries > 0, "no transaction was retried");
      assert.ok(attempts[0] + attempts[1] >= 3, `attempts: ${attempts}`);
      assert.equal((await sql(`SELECT count(*)::int AS n FROM machines`))[0].n, 2);
    } finally {
      await session.close();
    }
  },
  { drivers: postgresOnly },
);

if (postgresOnly.length > 0) {
  Deno.test("after a PostgreSQL outage full of refused connections, the BMDB answers within seconds of the restart", async () => {
    await using pg = await ownPostgres();
    const session = await pg.bmdb.startSession({ intervalSeconds: 30 });
    try {
      // Both pools: the session's transactions (SERIALIZABLE) and the janitor's statements (READ COMMITTED).
      const both = () => Promise.all([session.transact((q) => q.newMachine()), pg.bmdb.reapExpiredSessions()]);
      let up = false;
      const restart = pg.server.restart({ downMs: 4_000 }).finally(() => up = true);
      // While the server is down, every attempt is refused and counted against the pools' reconnect delay.
      let refused = 0;
      while (!up) {
        await within(both(), 10_000, "an answer (or a refusal) during the outage").catch(() => refused++);
        await new Promise((r) => setTimeout(r, 20));
      }
      await restart;
      const upAt = performance.now();
      await within(both(), 5_000, "the first statements after the restart");
      const ms = performance.now() - upAt;
      assert.ok(refused >= 20, `only ${refused} refused attempts: the outage was not exercised`);
      // postgres.js's own reconnect delay grows to 10-20 s after this many refusals; the BMDB's is at most 1 s.
      assert.ok(ms < 3_000, `answered ${Math.round(ms)} ms after the server was back`);
    } finally {
      await session.close();
    }
  });
}

if (postgresOnly.length > 0) {
  Deno.test("transactions begun while PostgreSQL restarts all settle: committed or refused, none left waiting", async () => {
    await using pg = await ownPostgres();
    const session = await pg.bmdb.startSession({ intervalSeconds: 30 });
    try {
      const outcomes: Promise<string>[] = [];
      let restarting = true;
      const restart = pg.server.restart({ downMs: 1_000 }).finally(() => restarting = false);
      // One transaction every 30 ms (two statements, so a real BEGIN ... COMMIT) through the restart and 1.5 s beyond.
      let until = Infinity;
      while (performance.now() < until) {
        const transaction = session.transact(async (q) => {
          await q.newMachine();
          await q.newMachine();
        }).then(() => "committed", (error) => `refused: ${error.message}`);
        outcomes.push(within(transaction, 8_000, "the transaction's outcome").catch((error) => error.message));
        await new Promise((r) => setTimeout(r, 30));
        if (!restarting && until === Infinity) until = performance.now() + 1_500;
      }
      await restart;
      const results = await Promise.all(outcomes);
      const waiting = results.filter((r) => r.includes("did not happen"));
      assert.deepEqual(waiting, [], `${waiting.length} of ${results.length} transactions never settled`);
      assert.ok(results.at(-1) === "committed", `the last one, after the restart: ${results.at(-1)}`);
    } finally {
      await session.close();
    }
  });
}
