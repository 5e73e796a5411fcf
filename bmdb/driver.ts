/**
 * The database port: the little the BMDB needs from a database, with two
 * adapters (`driver_postgres.ts` for PostgreSQL/CockroachDB via postgres.js,
 * `driver_pglite.ts` for embedded PGlite). Everything above speaks SQL through
 * this interface, so both drivers run the same statements.
 *
 * Both adapters throw {@linkcode DatabaseError} with the SQLSTATE as `code`,
 * so retry and conflict handling happen once, above the drivers.
 *
 * @module
 */

/** A result row, column name to value. */
export type Row = Record<string, unknown>;

/**
 * How a statement runs.
 * - `serializable`: claims, commits and session transactions. Under
 *   SERIALIZABLE a single statement is its own transaction, one round trip.
 * - `read committed`: heartbeats, the janitor, statistics. Invisible to the
 *   serializable transactions' conflict detection, so a heartbeat never makes
 *   a claim retry.
 */
export type Isolation = "serializable" | "read committed";

/** An open transaction on one connection. Queries issued without awaiting are pipelined. */
export interface DriverTransaction {
  query(text: string, params: readonly unknown[]): Promise<Row[]>;
  /** Multi-statement SQL without parameters (migrations). */
  exec(script: string): Promise<void>;
  /** Commits. Rejects when the database rolled back instead (a failed statement earlier). */
  commit(): Promise<void>;
  /** Rolls back; never rejects (a dead connection has rolled back anyway). */
  rollback(): Promise<void>;
}

/** Options for {@linkcode Driver.begin}. */
export interface BeginOptions {
  isolation: Isolation | "repeatable read";
  readOnly?: boolean;
}

/** A database connection pool (or the embedded database). */
export interface Driver {
  readonly kind: "postgres" | "pglite";
  /** Where it points, for messages: `PostgreSQL at host:port/db` (no password) or `PGlite in ./data`. */
  readonly target: string;
  /** Runs one statement as its own transaction. */
  query(text: string, params: readonly unknown[], isolation: Isolation): Promise<Row[]>;
  /** Starts a transaction. BEGIN is pipelined with the first query where the driver can. */
  begin(options: BeginOptions): Promise<DriverTransaction>;
  close(): Promise<void>;
}

/** SQLSTATEs after which a transaction can simply run again. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(["40001", "40P01"]);
