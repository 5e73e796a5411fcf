/**
 * The bench's own SQL (seeding, resets, the recycler), on either database,
 * outside the BMDB's API: one statement per call, no parameters.
 *
 * @module
 */
import postgres from "postgres";
import type { Driver } from "../bmdb/driver.ts";

/** Runs one statement at READ COMMITTED (autocommit). */
export interface RawSql {
  query(text: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

/** A connection of its own to PostgreSQL (one; READ COMMITTED, no planner overrides). */
export function postgresRawSql(url: string): RawSql {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connection: { application_name: "drover bench" } });
  return {
    async query(text) {
      return [...await sql.unsafe(text)];
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}

/**
 * PGlite is one backend: raw SQL goes through the BMDB's own driver, whose
 * lock keeps it out of the workers' transactions. Closing is the Bmdb's job.
 */
export function driverRawSql(driver: Driver): RawSql {
  return {
    query: (text) => driver.query(text, [], "read committed"),
    close: () => Promise.resolve(),
  };
}
