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

/**
 * The channel the change feed's triggers notify (PostgreSQL).
 * ONCHANGE(migrations/0003_change_feed.up.sql): the name and the payloads.
 */
export const CHANGE_CHANNEL = "drover_bmdb_change";

/** What {@linkcode Driver.listenForChanges} calls. */
export interface ChangeHandlers {
  /**
   * A table behind the change feed changed: the payload is the table, then
   * `:` and the machine where a row belongs to one (`work_slot:<uuid>`).
   */
  onNotify(payload: string): void;
  /**
   * Reporting is in place: after the first LISTEN, and again after every
   * re-LISTEN that follows a lost connection. Changes made while it was not
   * in place are lost, so whoever listens re-reads here.
   */
  onListen(): void;
}

/** A subscription made by {@linkcode Driver.listenForChanges}. */
export interface Listening {
  /** Stops it. Never rejects. */
  close(): Promise<void>;
}

/** A database connection pool (or the embedded database). */
export interface Driver {
  readonly kind: "postgres" | "pglite";
  /** The SQL dialect: PGlite and PostgreSQL speak `postgresql`. */
  readonly dialect: "postgresql" | "cockroachdb";
  /** Where it points, for messages: `PostgreSQL at host:port/db` (no password) or `PGlite in ./data`. */
  readonly target: string;
  /** Runs one statement as its own transaction. */
  query(text: string, params: readonly unknown[], isolation: Isolation): Promise<Row[]>;
  /** Starts a transaction. BEGIN is pipelined with the first query where the driver can. */
  begin(options: BeginOptions): Promise<DriverTransaction>;
  /**
   * Reports changes to the tables behind the change feed. PostgreSQL: LISTEN
   * on {@linkcode CHANGE_CHANNEL} (its triggers notify), on a connection of
   * its own that is re-established and re-LISTENed after it is lost. PGlite:
   * in-process, from the statements its driver runs. Absent where the
   * database has no LISTEN/NOTIFY (CockroachDB): poll instead.
   */
  listenForChanges?(handlers: ChangeHandlers): Promise<Listening>;
  /**
   * Its SERIALIZABLE statements (claims, releases, backoffs) send no NOTIFY
   * inside their transactions: the driver notifies after they commit
   * (`work_doorbell.ts`), and each writes `work_history`, which a change feed
   * listening here also polls, for a notification lost with its process
   * (PostgreSQL; `migrations/0006_...`). Every other writer still notifies
   * from its triggers.
   */
  readonly workChangesInHistory?: boolean;
  close(): Promise<void>;
}

/** SQLSTATEs after which a transaction can simply run again. */
export const RETRYABLE_SQLSTATES: ReadonlySet<string> = new Set(["40001", "40P01"]);
