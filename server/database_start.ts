/**
 * Opening the BMDB at start: PGlite under the data dir, or PostgreSQL once it
 * answers and takes writes. A replica started while PostgreSQL is down,
 * restarting or failing over waits (up to `DROVER_DATABASE_WAIT`, saying why
 * on `/readyz` and in its log) instead of exiting; a wrong password, a missing
 * database or a list of standbys fails at once (bmdb/postgres_wait.ts).
 *
 * @module
 */
import { type Bmdb, DatabaseUnavailableError, type Logger, openBmdb } from "../bmdb/mod.ts";

/** How often a wait that goes on is logged again. */
const LOG_EVERY_MS = 30_000;

export interface OpenDatabaseOptions {
  databaseUrl?: string;
  /** PGlite's directory, without `databaseUrl`. */
  pgliteDir: string;
  maxWaitMs: number;
  logger: Logger;
  /** What the start waits for now, for `/readyz`. */
  setStatus(status: string): void;
}

/**
 * Opens (and migrates) the BMDB.
 * @throws {DatabaseRefusedError} a wrong password, no such database or user, no writable host: at once.
 * @throws {DatabaseUnavailableError} PostgreSQL did not take writes within `maxWaitMs`.
 */
export async function openDatabase(o: OpenDatabaseOptions): Promise<Bmdb> {
  if (!o.databaseUrl) {
    o.setStatus("opening the embedded database");
    return await openBmdb({ component: "drover", dataDir: o.pgliteDir, logger: o.logger });
  }
  const { waitForWritablePostgres } = await import("../bmdb/postgres_wait.ts");
  const started = performance.now();
  let loggedAt = -Infinity;
  for (;;) {
    o.setStatus("connecting to the database");
    await waitForWritablePostgres(o.databaseUrl, {
      maxWaitMs: Math.max(0, o.maxWaitMs - (performance.now() - started)),
      onWaiting: (reason) => {
        const waited = performance.now() - started;
        o.setStatus(`waiting for the database (${Math.round(waited / 1000)} s so far): ${reason}`);
        if (waited - loggedAt >= LOG_EVERY_MS) {
          loggedAt = waited;
          o.logger.warn("the database takes no writes yet: waiting", {
            reason,
            waitedSeconds: Math.round(waited / 1000),
            limitSeconds: Math.round(o.maxWaitMs / 1000),
          });
        }
      },
    });
    o.setStatus("opening the database and bringing its schema up to date");
    try {
      return await openBmdb({ component: "drover", databaseUrl: o.databaseUrl, logger: o.logger });
    } catch (error) {
      // It went away between the probe and the connection (a restart, a failover): wait again, within the limit.
      if (!(error instanceof DatabaseUnavailableError) || performance.now() - started >= o.maxWaitMs) throw error;
      o.logger.warn("the database went away while opening: waiting again", { error });
    }
  }
}
