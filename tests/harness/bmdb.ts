/**
 * BMDB test fixtures: every test runs on PGlite and on PostgreSQL, each with a
 * fresh, migrated database that is removed afterwards (also when the test
 * fails).
 *
 * ```ts
 * bmdbTest("closing a session releases its work", async ({ bmdb }) => { ... });
 * ```
 *
 * @module
 */
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { type Bmdb, openBmdb, type OpenBmdbOptions } from "../../bmdb/mod.ts";
// Internal entry points: raw SQL on an embedded database has to go through the
// driver the BMDB uses (its lock keeps it out of open transactions).
import { openBmdbOnDriver } from "../../bmdb/bmdb.ts";
import type { Driver } from "../../bmdb/driver.ts";
import { pgliteDriver } from "../../bmdb/driver_pglite.ts";
import { openPostgresDriver } from "../../bmdb/driver_postgres.ts";
import { postgresRequirement, sharedPostgres } from "./postgres.ts";
import { serviceAvailable } from "./requirements.ts";

export type DriverName = "pglite" | "postgres";

/** A fresh BMDB for one test. */
export interface TestBmdb extends AsyncDisposable {
  driver: DriverName;
  /** Opened as component "test". */
  bmdb: Bmdb;
  /** PostgreSQL only: the database's URL (for raw SQL checks and more components). */
  url?: string;
  /** Runs SQL on the test database directly (setup and checks), outside the BMDB. */
  sql(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * Another component on the same database: a second connection pool on
   * PostgreSQL. On PGlite (one process, one instance) it is the same Bmdb.
   */
  openAnother(options?: Partial<OpenBmdbOptions>): Promise<Bmdb>;
}

const TEMPLATE = "drover_template";
let pgTemplate: Promise<void> | undefined;
let pgliteTemplate: Promise<Blob> | undefined;

function ensurePostgresTemplate(): Promise<void> {
  pgTemplate ??= (async () => {
    const server = await sharedPostgres();
    const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
    try {
      const exists = await admin`SELECT 1 FROM pg_database WHERE datname = ${TEMPLATE}`;
      if (exists.length === 0) {
        await admin.unsafe(`CREATE DATABASE ${TEMPLATE}`);
        const bmdb = await openBmdb({ component: "template", databaseUrl: server.url(TEMPLATE) });
        await bmdb.close();
      }
    } finally {
      await admin.end();
    }
  })();
  return pgTemplate;
}

/** A migrated PGlite data directory, dumped once per process and loaded by each test. */
function ensurePgliteTemplate(): Promise<Blob> {
  pgliteTemplate ??= (async () => {
    const db = await PGlite.create();
    const bmdb = await openBmdbOnDriver(await pgliteDriver(db, "PGlite template"), { component: "template" });
    const dump = await db.dumpDataDir("none");
    await bmdb.close();
    return dump;
  })();
  return pgliteTemplate;
}

/** Options for {@linkcode testBmdb} beyond the BMDB's own. */
export interface TestBmdbOptions {
  /**
   * Puts a wrapper between the test's Bmdb and its driver (fault injection).
   * Only the Bmdb of `bmdb` goes through it; `sql` and `openAnother` do not.
   */
  wrapDriver?: (driver: Driver) => Driver;
}

/** Opens a fresh, migrated BMDB on `driver`. Dispose it to remove everything. */
export async function testBmdb(
  driver: DriverName,
  options: Partial<OpenBmdbOptions> = {},
  { wrapDriver }: TestBmdbOptions = {},
): Promise<TestBmdb> {
  const opened: Bmdb[] = [];
  const open = async (o: Partial<OpenBmdbOptions>, where: { databaseUrl?: string; dataDir?: string }) => {
    const b = await openBmdb({ component: "test", ...where, ...o });
    opened.push(b);
    return b;
  };
  if (driver === "postgres") {
    await ensurePostgresTemplate();
    const server = await sharedPostgres();
    const name = `test_${crypto.randomUUID().replaceAll("-", "")}`;
    const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
    await admin.unsafe(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
    const url = server.url(name);
    const raw = postgres(url, { onnotice: () => {}, max: 2 });
    let bmdb: Bmdb;
    if (wrapDriver) {
      const inner = await openPostgresDriver({ url, poolSize: options.poolSize ?? 20, applicationName: "drover test" });
      bmdb = await openBmdbOnDriver(wrapDriver(inner), { component: "test", ...options });
      opened.push(bmdb);
    } else {
      bmdb = await open(options, { databaseUrl: url });
    }
    return {
      driver,
      bmdb,
      url,
      sql: (text, params = []) => raw.unsafe(text, params as postgres.ParameterOrJSON<never>[]),
      openAnother: (o = {}) => open({ ...options, ...o }, { databaseUrl: url }),
      async [Symbol.asyncDispose]() {
        await Promise.all(opened.map((b) => b.close().catch(() => {})));
        await raw.end();
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end();
      },
    };
  }
  const template = await ensurePgliteTemplate();
  const driver0: Driver = await pgliteDriver(await PGlite.create({ loadDataDir: template }), "PGlite in memory");
  const bmdb = await openBmdbOnDriver(wrapDriver ? wrapDriver(driver0) : driver0, { component: "test", ...options });
  opened.push(bmdb);
  return {
    driver,
    bmdb,
    sql: (text, params = []) => driver0.query(text, params, "read committed"),
    openAnother: () => Promise.resolve(bmdb),
    async [Symbol.asyncDispose]() {
      await Promise.all(opened.map((b) => b.close().catch(() => {})));
    },
  };
}

/** The single number a `SELECT count(*) ...` (or any one-column, one-row query) returns. */
export async function countRows(t: TestBmdb, text: string, params: unknown[] = []): Promise<number> {
  const [row] = await t.sql(text, params);
  return Number(Object.values(row)[0]);
}

/** The drivers to test on: PGlite always; PostgreSQL when installed (required under DROVER_REQUIRE_SERVICES=1). */
export function testDrivers(): DriverName[] {
  return serviceAvailable(postgresRequirement) ? ["pglite", "postgres"] : ["pglite"];
}

/** Registers `fn` as one test per driver, each with a fresh BMDB. */
export function bmdbTest(
  name: string,
  fn: (t: TestBmdb, context: Deno.TestContext) => Promise<void>,
  options: { drivers?: DriverName[]; bmdb?: Partial<OpenBmdbOptions> } & TestBmdbOptions = {},
): void {
  for (const driver of options.drivers ?? testDrivers()) {
    Deno.test({
      name: `${name} [${driver}]`,
      // postgres.js keeps sockets alive between tests of one file; the fixture closes them.
      sanitizeResources: false,
      sanitizeOps: false,
      async fn(context) {
        await using t = await testBmdb(driver, options.bmdb, { wrapDriver: options.wrapDriver });
        await fn(t, context);
      },
    });
  }
}
