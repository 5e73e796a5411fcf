/**
 * Applies `migrations/NNNN_name.up.sql` in order and records them in
 * `schema_migrations`.
 *
 * Safe when several replicas start at once: all pending migrations run in one
 * transaction that first takes a lock row `FOR UPDATE` (works on PostgreSQL and
 * CockroachDB alike). A second process waits for that lock, then finds the
 * work done. A migration file that changed after it was applied is refused:
 * migrations are never edited once merged. A database that records
 * migrations this build does not have (a newer release migrated it) is
 * refused too, before anything is applied: see docs/upgrades.md for the
 * rule (expand, then contract in a later release) that lets a newer
 * release's migration land while replicas of this one keep running.
 *
 * A migration that is not for every database says so on a line of its own,
 * `-- drover: skip on cockroachdb, pglite` (the change feed's triggers:
 * CockroachDB has no NOTIFY, and PGlite's driver reports changes itself).
 * There it is recorded (with its checksum) without running.
 *
 * @module
 */
import type { Driver } from "./driver.ts";
import { DatabaseError, MigrationError, SchemaTooNewError } from "./errors.ts";

/** One migration file. */
export interface Migration {
  /** The number prefix, e.g. `0001`. */
  version: string;
  /** The file name without `.up.sql`, e.g. `0001_initial`. */
  name: string;
  sql: string;
  /** SHA-256 of the file, hex. */
  checksum: string;
}

/** What {@linkcode migrate} did. */
export interface MigrationResult {
  /** Names applied by this call, in order. */
  applied: string[];
  /** How many were already applied before. */
  alreadyApplied: number;
}

const MIGRATIONS_DIR = new URL("../migrations/", import.meta.url); // ONCHANGE(release/layout.ts): bundle in server/
const FILE_NAME = /^(\d{4})_([a-z0-9_]+)\.up\.sql$/;
const SKIP_ON = /^-- drover: skip on ([a-z, ]+)$/m;

/** Whether `migration` says to skip the database behind `driver` (`pglite`, `postgresql` or `cockroachdb`). */
function skipsOn(migration: Migration, driver: Driver): boolean {
  const names = SKIP_ON.exec(migration.sql)?.[1].split(",").map((name) => name.trim()) ?? [];
  return names.includes(driver.kind === "pglite" ? "pglite" : driver.dialect);
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Reads the migration files, sorted by version. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (!entry.isFile || !entry.name.endsWith(".sql")) continue;
    const match = FILE_NAME.exec(entry.name);
    if (!match) {
      throw new MigrationError(`Migration file ${entry.name} is not named NNNN_name.up.sql`);
    }
    const sql = await Deno.readTextFile(new URL(entry.name, dir));
    migrations.push({ version: match[1], name: `${match[1]}_${match[2]}`, sql, checksum: await sha256(sql) });
  }
  migrations.sort((a, b) => a.version.localeCompare(b.version));
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new MigrationError(`Two migrations share version ${migrations[i].version}`);
    }
  }
  return migrations;
}

// Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog
// (a unique violation on pg_type, or "already exists"): the other process won,
// so run the statement again and it is a no-op.
const CATALOG_RACE = new Set(["23505", "42P07", "42710", "40001"]);

const BOOTSTRAP = [
  `CREATE TABLE IF NOT EXISTS schema_migrations (
     version TEXT NOT NULL PRIMARY KEY,
     name TEXT NOT NULL,
     checksum TEXT NOT NULL,
     applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS schema_migrations_lock (lock_id INT NOT NULL PRIMARY KEY)`,
  `INSERT INTO schema_migrations_lock (lock_id) VALUES (1) ON CONFLICT (lock_id) DO NOTHING`,
];

/**
 * Brings the schema up to date.
 * @throws {SchemaTooNewError} the database records migrations this build does not have (nothing was applied).
 * @throws {MigrationError} when an applied migration's file changed, or a migration fails (nothing of it is kept).
 */
export async function migrate(driver: Driver, migrations?: Migration[]): Promise<MigrationResult> {
  const files = migrations ?? await loadMigrations();
  for (const statement of BOOTSTRAP) {
    for (let attempt = 1;; attempt++) {
      try {
        await driver.query(statement, [], "read committed");
        break;
      } catch (error) {
        if (!(error instanceof DatabaseError && CATALOG_RACE.has(error.code)) || attempt >= 5) throw error;
      }
    }
  }

  const tx = await driver.begin({ isolation: "read committed" });
  try {
    // Whoever holds this row migrates; the others wait here, then see it done.
    await tx.query(`SELECT lock_id FROM schema_migrations_lock WHERE lock_id = 1 FOR UPDATE`, []);
    const rows = await tx.query(`SELECT version, name, checksum FROM schema_migrations ORDER BY version`, []);
    const applied = new Map(rows.map((r) => [String(r.version), r]));
    const known = new Set(files.map((m) => m.version));
    // Checked before applying anything: a build that is behind the database must not add to it either.
    const unknown = rows.filter((r) => !known.has(String(r.version))).map((r) => String(r.name));
    if (unknown.length > 0) throw new SchemaTooNewError(unknown, files.at(-1)?.name);
    const result: MigrationResult = { applied: [], alreadyApplied: 0 };
    for (const migration of files) {
      const done = applied.get(migration.version);
      if (done) {
        if (done.checksum !== migration.checksum) {
          throw new MigrationError(
            `Migration ${migration.name} was changed after it was applied to this database ` +
              `(recorded checksum ${String(done.checksum).slice(0, 12)}…, file ${migration.checksum.slice(0, 12)}…). ` +
              `Migrations must never be edited once merged; add a new one instead.`,
          );
        }
        result.alreadyApplied++;
        continue;
      }
      try {
        if (!skipsOn(migration, driver)) await tx.exec(migration.sql);
      } catch (error) {
        throw new MigrationError(`Migration ${migration.name} failed: ${(error as Error).message}`, { cause: error });
      }
      await tx.query(
        `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::text, $2::text, $3::text)`,
        [migration.version, migration.name, migration.checksum],
      );
      result.applied.push(migration.name);
    }
    await tx.commit();
    return result;
  } catch (error) {
    await tx.rollback();
    throw error;
  }
}
