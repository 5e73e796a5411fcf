import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { loadMigrations, MigrationError, openBmdb } from "../../bmdb/mod.ts";
// Internal entry points: migrations of the test's own, on a driver of the test's own.
import { openPostgresDriver } from "../../bmdb/driver_postgres.ts";
import { pgliteDriver } from "../../bmdb/driver_pglite.ts";
import { migrate } from "../../bmdb/migrate.ts";
import { bmdbTest, testDrivers } from "../harness/bmdb.ts";
import { startPostgres } from "../harness/postgres.ts";
import { within } from "../harness/wait.ts";

const postgresOnly = testDrivers().filter((d) => d === "postgres");
const CHILD = new URL("./migrate_child.ts", import.meta.url);
const REPO = new URL("../../", import.meta.url);

interface ChildReport {
  migration?: { applied: string[]; alreadyApplied: number; unknown: string[] };
  startedAt?: number;
  finishedAt?: number;
  error?: { name: string; message: string };
}

/** A `migrate_child.ts` process, read line by line. */
function spawnChild(databaseUrl: string) {
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", CHILD.pathname, databaseUrl],
    cwd: REPO.pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(process.stderr).text();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    process,
    stderr,
    /** The next line of stdout, parsed as JSON. */
    async nextReport(): Promise<ChildReport> {
      while (!buffered.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`child exited without a report; stderr:\n${await stderr}`);
        buffered += value;
      }
      const end = buffered.indexOf("\n");
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 1);
      return JSON.parse(line);
    },
    async [Symbol.asyncDispose]() {
      try {
        process.kill();
      } catch {
        // already exited
      }
      await process.status;
      await reader.cancel().catch(() => {});
      await stderr.catch(() => {});
    },
  };
}

/** A PGlite data directory in a fresh temporary directory, removed on dispose. */
async function tempDataDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "drover-pglite-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}) };
}

async function schemaMigrations(sql: (text: string) => Promise<Record<string, unknown>[]>) {
  const rows = await sql(`SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version`);
  return rows.map((r) => ({ ...r }));
}

if (postgresOnly.length > 0) {
  Deno.test("five processes migrating one empty database at the same moment apply each migration once", async () => {
    const names = (await loadMigrations()).map((m) => m.name);
    await using server = await startPostgres();
    const children = Array.from({ length: 5 }, () => spawnChild(server.url()));
    try {
      const ready = await within(Promise.all(children.map((c) => c.nextReport())), 60_000, "all children ready");
      assert.ok(ready.every((r) => (r as { ready?: boolean }).ready));
      // Release them together.
      const go = new TextEncoder().encode("go\n");
      await Promise.all(children.map(async (c) => {
        const writer = c.process.stdin.getWriter();
        await writer.write(go);
        await writer.close();
      }));
      const reports = await within(Promise.all(children.map((c) => c.nextReport())), 60_000, "all reports");
      const statuses = await Promise.all(children.map((c) => c.process.status));
      for (const [i, status] of statuses.entries()) {
        assert.ok(status.success, `child ${i} failed: ${JSON.stringify(reports[i])}\n${await children[i].stderr}`);
      }

      // They really overlapped: every one had started before the first one was done.
      const lastStart = Math.max(...reports.map((r) => r.startedAt!));
      const firstFinish = Math.min(...reports.map((r) => r.finishedAt!));
      assert.ok(lastStart <= firstFinish, `the children ran one after another (${lastStart} > ${firstFinish})`);

      const migrations = reports.map((r) => r.migration!);
      const appliers = migrations.filter((m) => m.applied.length > 0);
      assert.equal(appliers.length, 1, `applied by: ${JSON.stringify(migrations)}`);
      assert.deepEqual(appliers[0], { applied: names, alreadyApplied: 0, unknown: [] });
      for (const m of migrations.filter((m) => m !== appliers[0])) {
        assert.deepEqual(m, { applied: [], alreadyApplied: names.length, unknown: [] });
      }

      const recorded = await server.admin(
        `SELECT name, count(*)::int AS n FROM schema_migrations GROUP BY name ORDER BY name`,
      );
      assert.deepEqual(recorded.map((r) => [r.name, r.n]), names.map((n) => [n, 1]));

      // A sixth open, after all of them, has nothing left to do.
      const bmdb = await openBmdb({ component: "test", databaseUrl: server.url() });
      await bmdb.close();
      assert.deepEqual(bmdb.migration, { applied: [], alreadyApplied: names.length, unknown: [] });
    } finally {
      for (const child of children) await child[Symbol.asyncDispose]();
    }
  });
}

bmdbTest(
  "opening a migrated database again applies nothing and leaves schema_migrations as it was",
  async ({ openAnother, sql }) => {
    const names = (await loadMigrations()).map((m) => m.name);
    const before = await schemaMigrations(sql);
    assert.deepEqual(before.map((r) => r.name), names);
    const again = await openAnother();
    assert.deepEqual(again.migration, { applied: [], alreadyApplied: names.length, unknown: [] });
    assert.deepEqual(await schemaMigrations(sql), before);
  },
  { drivers: postgresOnly },
);

bmdbTest(
  "a version recorded by a newer build is reported as unknown and left in place",
  async ({ openAnother, sql }) => {
    const names = (await loadMigrations()).map((m) => m.name);
    await sql(`INSERT INTO schema_migrations (version, name, checksum) VALUES ('9999', '9999_future', 'abc')`);
    const again = await openAnother();
    assert.deepEqual(again.migration, { applied: [], alreadyApplied: names.length, unknown: ["9999"] });
    const rows = await sql(`SELECT name FROM schema_migrations WHERE version = '9999'`);
    assert.equal(rows.length, 1);
  },
  { drivers: postgresOnly },
);

bmdbTest(
  "a migration changed after it was applied is refused with MigrationError, changing nothing",
  async ({ openAnother, sql }) => {
    const [first] = await loadMigrations();
    await sql(`UPDATE schema_migrations SET checksum = 'tampered' WHERE version = $1`, [first.version]);
    const before = await schemaMigrations(sql);
    await assert.rejects(openAnother(), (e) => {
      assert.ok(e instanceof MigrationError, `expected MigrationError, got ${e}`);
      assert.match(e.message, new RegExp(`${first.name} was changed after it was applied`));
      return true;
    });
    assert.deepEqual(await schemaMigrations(sql), before);
  },
  { drivers: postgresOnly },
);

Deno.test("reopening a PGlite data directory applies nothing the second time", async () => {
  const names = (await loadMigrations()).map((m) => m.name);
  await using dir = await tempDataDir();
  const first = await openBmdb({ component: "test", dataDir: dir.path });
  await first.close();
  assert.deepEqual(first.migration, { applied: names, alreadyApplied: 0, unknown: [] });

  const second = await openBmdb({ component: "test", dataDir: dir.path });
  await second.close();
  assert.deepEqual(second.migration, { applied: [], alreadyApplied: names.length, unknown: [] });
});

Deno.test("a PGlite data directory whose applied migration changed is refused with MigrationError", async () => {
  const [first] = await loadMigrations();
  await using dir = await tempDataDir();
  await (await openBmdb({ component: "test", dataDir: dir.path })).close();
  const raw = await PGlite.create(dir.path);
  try {
    await raw.query(`UPDATE schema_migrations SET checksum = 'tampered' WHERE version = $1`, [first.version]);
  } finally {
    await raw.close();
  }

  await assert.rejects(openBmdb({ component: "test", dataDir: dir.path }), (e) => {
    assert.ok(e instanceof MigrationError, `expected MigrationError, got ${e}`);
    assert.match(e.message, new RegExp(`${first.name} was changed after it was applied`));
    return true;
  });
});

bmdbTest(
  "a migration marked `-- drover: skip on pglite` is recorded on PGlite without running, and runs elsewhere",
  async (t) => {
    const driver = t.driver === "pglite"
      ? await pgliteDriver(await PGlite.create(), "PGlite in memory")
      : await openPostgresDriver({ url: t.url ?? assert.fail("no PostgreSQL URL") });
    try {
      const marked = { version: "9000", name: "9000_marked", checksum: "c0ffee" };
      const migrations = [
        ...await loadMigrations(),
        { ...marked, sql: "-- drover: skip on cockroachdb, pglite\nCREATE TABLE marked_ran (id INT);\n" },
      ];
      const result = await migrate(driver, migrations);
      assert.deepEqual(result.applied.at(-1), "9000_marked");
      const recorded = await driver.query(
        `SELECT checksum FROM schema_migrations WHERE version = '9000'`,
        [],
        "read committed",
      );
      assert.deepEqual(recorded.map((r) => r.checksum), ["c0ffee"]);
      const ran = await driver.query(`SELECT to_regclass('marked_ran') IS NOT NULL AS ran`, [], "read committed");
      assert.equal(
        ran[0].ran,
        t.driver === "postgres",
        "the marked migration ran where it should not, or not where it should",
      );
    } finally {
      await driver.close();
    }
  },
);
