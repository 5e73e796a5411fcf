import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import { loadMigrations, type Migration, MigrationError, openBmdb, SchemaTooNewError } from "../../bmdb/mod.ts";
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
  migration?: { applied: string[]; alreadyApplied: number };
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
      assert.deepEqual(appliers[0], { applied: names, alreadyApplied: 0 });
      for (const m of migrations.filter((m) => m !== appliers[0])) {
        assert.deepEqual(m, { applied: [], alreadyApplied: names.length });
      }

      const recorded = await server.admin(
        `SELECT name, count(*)::int AS n FROM schema_migrations GROUP BY name ORDER BY name`,
      );
      assert.deepEqual(recorded.map((r) => [r.name, r.n]), names.map((n) => [n, 1]));

      // A sixth open, after all of them, has nothing left to do.
      const bmdb = await openBmdb({ component: "test", databaseUrl: server.url() });
      await bmdb.close();
      assert.deepEqual(bmdb.migration, { applied: [], alreadyApplied: names.length });
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
    assert.deepEqual(again.migration, { applied: [], alreadyApplied: names.length });
    assert.deepEqual(await schemaMigrations(sql), before);
  },
  { drivers: postgresOnly },
);

/** Asserts `error` is the refusal of a build whose newest migration is `newestKnown`, naming `unknown`. */
function assertSchemaTooNew(error: unknown, unknown: string[], newestKnown: string): true {
  assert.ok(error instanceof SchemaTooNewError, `expected SchemaTooNewError, got ${error}`);
  assert.ok(error instanceof MigrationError, "a SchemaTooNewError is a MigrationError");
  assert.deepEqual(error.unknownMigrations, unknown);
  assert.equal(error.newestKnown, newestKnown);
  // What the operator reads: what the database has, that a newer Drover did it, and what to do.
  assert.match(error.message, /migrated by a newer Drover/);
  for (const name of unknown) assert.ok(error.message.includes(name), `${name} missing from: ${error.message}`);
  assert.ok(error.message.includes(`its newest is ${newestKnown}`), error.message);
  assert.match(error.message, /Start the newer release .*\(docs\/upgrades\.md, section Rolling back\)\.$/);
  return true;
}

bmdbTest(
  "a database with versions of a newer build is refused with SchemaTooNewError naming them, changing nothing",
  async ({ openAnother, sql }) => {
    const known = await loadMigrations();
    await sql(`INSERT INTO schema_migrations (version, name, checksum) VALUES
      ('9998', '9998_newer_table', 'abc'), ('9999', '9999_newer_column', 'def')`);
    const before = await schemaMigrations(sql);
    await assert.rejects(
      openAnother(),
      (e) => assertSchemaTooNew(e, ["9998_newer_table", "9999_newer_column"], known.at(-1)!.name),
    );
    assert.deepEqual(await schemaMigrations(sql), before);
  },
  { drivers: postgresOnly },
);

bmdbTest(
  "after a newer release's expand migration, this build refuses and applies nothing; undoing it lets this build start",
  async (t) => {
    const driver = t.driver === "pglite"
      ? await pgliteDriver(await PGlite.create(), "PGlite in memory")
      : await openPostgresDriver({ url: t.url ?? assert.fail("no PostgreSQL URL") });
    const query = async (text: string) => await driver.query(text, [], "read committed");
    try {
      const known = await loadMigrations();
      // The older build lacks this build's last migration; the newer one adds a nullable column after it.
      const older = known.slice(0, -1);
      const newer: Migration = {
        version: "9000",
        name: "9000_machine_note",
        sql: "ALTER TABLE machines ADD COLUMN machine_note TEXT NULL;\n",
        checksum: "c0ffee",
      };
      await migrate(driver, [...known, newer]);
      const recorded = async () =>
        (await query(`SELECT name FROM schema_migrations ORDER BY version`)).map((r) => r.name);
      const before = await recorded();

      await assert.rejects(
        migrate(driver, older),
        (e) => assertSchemaTooNew(e, [known.at(-1)!.name, newer.name], older.at(-1)!.name),
      );
      await assert.rejects(migrate(driver, known), (e) => assertSchemaTooNew(e, [newer.name], known.at(-1)!.name));
      assert.deepEqual(await recorded(), before, "a refused build changed schema_migrations");

      // Rolling back (docs/upgrades.md): the newer release's migration undone, in one transaction.
      const undo = await driver.begin({ isolation: "read committed" });
      await undo.exec(
        `ALTER TABLE machines DROP COLUMN machine_note; DELETE FROM schema_migrations WHERE version = '9000';`,
      );
      await undo.commit();
      assert.deepEqual(await migrate(driver, known), { applied: [], alreadyApplied: known.length });
      const column = await query(`SELECT count(*)::int AS n FROM information_schema.columns
        WHERE table_name = 'machines' AND column_name = 'machine_note'`);
      assert.equal(column[0].n, 0);
    } finally {
      await driver.close();
    }
  },
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
  assert.deepEqual(first.migration, { applied: names, alreadyApplied: 0 });

  const second = await openBmdb({ component: "test", dataDir: dir.path });
  await second.close();
  assert.deepEqual(second.migration, { applied: [], alreadyApplied: names.length });
});

Deno.test("a PGlite data directory a newer build migrated is refused with SchemaTooNewError", async () => {
  const known = await loadMigrations();
  await using dir = await tempDataDir();
  await (await openBmdb({ component: "test", dataDir: dir.path })).close();
  const raw = await PGlite.create(dir.path);
  try {
    await raw.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES ('9999', '9999_newer', 'abc')`);
  } finally {
    await raw.close();
  }

  await assert.rejects(
    openBmdb({ component: "test", dataDir: dir.path }),
    (e) => assertSchemaTooNew(e, ["9999_newer"], known.at(-1)!.name),
  );
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
