/**
 * The bench's server profile reads what PostgreSQL reports: a backend blocked
 * on another's row lock is sampled as waiting on that lock, an idle one is not
 * sampled at all, and the WAL counters grow by what a statement wrote.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { postgresRawSql } from "../../bench/raw_sql.ts";
import { describeWaits, startWaitSampler } from "../../bench/wait_events.ts";
import { readWal, walPerUnit } from "../../bench/wal_stats.ts";
import { postgresRequirement, sharedPostgres } from "../harness/postgres.ts";
import { serviceAvailable } from "../harness/requirements.ts";

async function freshDatabase(name: string): Promise<string> {
  const server = await sharedPostgres();
  const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return server.url(name);
}

if (serviceAvailable(postgresRequirement)) {
  Deno.test("server profile: a backend blocked on a row lock is sampled as a lock wait", async () => {
    const url = await freshDatabase("profile_waits");
    const holder = postgres(url, { max: 1, onnotice: () => {} });
    const waiter = postgres(url, { max: 1, onnotice: () => {} });
    const stats = postgresRawSql(url);
    try {
      await holder`CREATE TABLE t (id int PRIMARY KEY, n int NOT NULL)`;
      await holder`INSERT INTO t VALUES (1, 0)`;
      const held = holder.reserve();
      const tx = await held;
      await tx`BEGIN`;
      await tx`UPDATE t SET n = n + 1 WHERE id = 1`; // holds the row; the connection is idle in its transaction
      const blocked = waiter`UPDATE t SET n = n + 1 WHERE id = 1`.execute();
      // Wait for the server to report the waiter blocked (a condition polled, not a fixed sleep).
      while (
        (await stats.query(
          "SELECT 1 FROM pg_stat_activity WHERE datname = 'profile_waits' AND wait_event_type = 'Lock'",
        )).length === 0
      ) await new Promise((resolve) => setTimeout(resolve, 10));

      const sampler = startWaitSampler(stats, "profile_waits", 1);
      const profile = await sampler.stop(); // one sample at least
      assert.ok(profile.samples >= 1);
      assert.equal(profile.activeSamples, profile.samples, "the waiter is the one active backend; the holder is idle");
      assert.deepEqual(Object.keys(profile.byState), ["Lock:transactionid"]);
      assert.match(describeWaits(profile), /^1\.00 active: Lock:transactionid 100%$/);

      await tx`COMMIT`;
      tx.release();
      await blocked;
      assert.deepEqual([...await holder`SELECT n FROM t`], [{ n: 2 }]);
    } finally {
      await stats.close();
      await Promise.all([holder.end({ timeout: 1 }), waiter.end({ timeout: 1 })]);
    }
  });

  Deno.test("server profile: WAL per unit counts what the statements wrote", async () => {
    const url = await freshDatabase("profile_wal");
    const stats = postgresRawSql(url);
    try {
      await stats.query("CREATE TABLE t (id int PRIMARY KEY, pad text NOT NULL)");
      const before = await readWal(stats);
      await stats.query("INSERT INTO t SELECT i, repeat('x', 100) FROM generate_series(1, 1000) i");
      await stats.query("SELECT pg_stat_force_next_flush()"); // this backend's counts, now rather than within a second
      const per = walPerUnit(before, await readWal(stats), 1000);
      // Each row: a heap insert of over 100 bytes and a primary-key entry (two records, more if pages filled).
      assert.ok(per.records >= 2, `records per row ${per.records}`);
      assert.ok(per.bytes >= 100, `bytes per row ${per.bytes}`);
      assert.ok(Number.isNaN(walPerUnit(before, before, 0).bytes), "no units: no figure");
    } finally {
      await stats.close();
    }
  });
}
