/**
 * Errors the BMDB library throws. Callers check them with `instanceof`, never
 * by message text; fields carry the facts.
 *
 * @module
 */

/**
 * The session is no longer alive: its heartbeats failed past the local
 * deadline, its row is gone or past its deadline, it was closed, or its
 * caller's signal aborted. Every later `transact`, `work`, `finish` and
 * `fail` call of that session rejects with this error.
 *
 * What to do next: start a new session with `Bmdb.startSession()`. Work held
 * by the old session is released when its deadline passes.
 */
export class SessionExpiredError extends Error {
  constructor(readonly sessionId: string, readonly reason: string, options?: ErrorOptions) {
    super(`Session ${sessionId} expired: ${reason}`, options);
    this.name = "SessionExpiredError";
  }
}

/**
 * Another live session already works on this machine with this process (or
 * with a process that excludes it). Nothing was written. What to do next:
 * pick another machine, or try again later.
 */
export class WorkConflictError extends Error {
  constructor(readonly machineId: string, readonly process: string, options?: ErrorOptions) {
    super(`Cannot start ${process} on machine ${machineId}: work is already running`, options);
    this.name = "WorkConflictError";
  }
}

/** The retrieval function found no machine to work on. Nothing was written. */
export class NothingToDoError extends Error {
  constructor(readonly process: string, options?: ErrorOptions) {
    super(`No machine is eligible for ${process}`, options);
    this.name = "NothingToDoError";
  }
}

/**
 * An operator canceled this work (or it is no longer held by this session), so
 * `finish` committed nothing of its function. The machine was released, with
 * one `Canceled` history row naming the operator.
 */
export class WorkCanceledError extends Error {
  constructor(
    readonly machineId: string,
    readonly process: string,
    readonly actor: string | null,
    options?: ErrorOptions,
  ) {
    super(
      `${process} on machine ${machineId} was canceled${actor ? ` by ${actor}` : ""}; nothing was committed`,
      options,
    );
    this.name = "WorkCanceledError";
  }
}

/** An operator action named work that is not running. Nothing was written. */
export class WorkNotFoundError extends Error {
  constructor(readonly machineId: string, readonly process: string, options?: ErrorOptions) {
    super(`No ${process} work is running on machine ${machineId}`, options);
    this.name = "WorkNotFoundError";
  }
}

/** A machine id that is a well-formed UUID but names no machine. Nothing was written. */
export class MachineNotFoundError extends Error {
  constructor(readonly machineId: string, options?: ErrorOptions) {
    super(`Machine ${machineId} does not exist`, options);
    this.name = "MachineNotFoundError";
  }
}

/**
 * Bad input: `field` names the argument (dotted for nested fields, e.g.
 * `backoff.initialSeconds`) and the message says what was wrong. Thrown before
 * anything is sent to the database, so nothing was written.
 */
export class InvalidArgumentError extends TypeError {
  constructor(readonly field: string, readonly problem: string, options?: ErrorOptions) {
    super(`Invalid ${field}: ${problem}`, options);
    this.name = "InvalidArgumentError";
  }
}

/**
 * An error reported by the database or its driver. `code` is the SQLSTATE for
 * server errors (e.g. `40001`), or the driver's code for connection failures
 * (e.g. `ECONNREFUSED`, `CONNECTION_CLOSED`).
 */
export class DatabaseError extends Error {
  constructor(
    message: string,
    readonly code: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "DatabaseError";
  }
}

/**
 * `openBmdb` could not reach the database within its timeout. The message
 * names the host and port (never the password).
 */
export class DatabaseUnavailableError extends Error {
  constructor(readonly target: string, readonly problem: string, options?: ErrorOptions) {
    super(`Cannot connect to ${target}: ${problem}`, options);
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * The database refused in a way that waiting does not heal: a wrong password,
 * an unknown user, a database that does not exist, or no host that takes
 * writes. The message names the hosts and what each said (never the password).
 */
export class DatabaseRefusedError extends Error {
  constructor(readonly target: string, readonly problem: string, options?: ErrorOptions) {
    super(`${target} refused: ${problem}`, options);
    this.name = "DatabaseRefusedError";
  }
}

/** The database schema cannot be brought to this version of Drover. */
export class MigrationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MigrationError";
  }
}

/**
 * The database was migrated by a newer Drover: `schema_migrations` records
 * migrations this build does not have. Thrown before anything is migrated,
 * so nothing was changed. Running on a schema it does not know could
 * misread or undo what the newer release relies on, so this build refuses.
 *
 * What to do next: run the newer release (or a later one) instead, e.g.
 * finish the rolling upgrade that migrated it; to go back to this release,
 * undo the newer release's migrations first (docs/upgrades.md, section
 * Rolling back).
 */
export class SchemaTooNewError extends MigrationError {
  constructor(
    /** The migrations the database records that this build lacks, e.g. `0010_machine_notes`, oldest first. */
    readonly unknownMigrations: readonly string[],
    /** This build's newest migration, e.g. `0009_owned_machines` (undefined when it has none). */
    readonly newestKnown: string | undefined,
    options?: ErrorOptions,
  ) {
    const plural = unknownMigrations.length > 1;
    super(
      `The database was migrated by a newer Drover: it has ${plural ? "migrations" : "migration"} ` +
        `${unknownMigrations.join(", ")}, which this build does not know ` +
        `(its newest is ${newestKnown ?? "none"}). Nothing was changed. ` +
        `Start the newer release (or a later one) instead; to go back to this one, ` +
        `first undo ${plural ? "those migrations" : "that migration"} (docs/upgrades.md, section Rolling back).`,
      options,
    );
    this.name = "SchemaTooNewError";
  }
}

/** A SQLSTATE: the server answered, so the statement (its own transaction) did not commit. */
const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * Whether a statement that failed with `error` may still have committed: the
 * reply was lost (the connection dropped, the driver failed), not refused by
 * the server (a SQLSTATE) or by the BMDB itself (its own errors, raised before
 * or after the database answered).
 * @internal
 */
export function outcomeUnknown(error: unknown): boolean {
  if (error instanceof DatabaseError) return !SQLSTATE.test(error.code);
  return !(error instanceof SessionExpiredError || error instanceof WorkConflictError ||
    error instanceof NothingToDoError || error instanceof WorkCanceledError || error instanceof WorkNotFoundError ||
    error instanceof MachineNotFoundError || error instanceof InvalidArgumentError);
}

/**
 * SQLSTATE classes and codes that say the database cannot serve right now,
 * as opposed to a statement that is wrong: a connection exception (class 08),
 * a server shutting down or starting (57P01-57P03), a read-only server (25006:
 * a standby, before a failover's promotion).
 */
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "25006"]);
/**
 * postgres.js's and the socket's codes for a connection that is gone or never came (not SQLSTATEs): what a lost
 * connection rejects with. TARGET_SESSION_ATTRS_UNMET: no host of a list took writes (vendor/postgres/PATCHED.md).
 */
export const CONNECTION_LOSS_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "CONNECT_TIMEOUT",
  "TARGET_SESSION_ATTRS_UNMET",
]);

/**
 * Whether `error` says the database is unreachable or cannot take the
 * statement now (an outage, a restart, a failover), so trying again later
 * may work: what an API answers with 503 rather than 500.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (!(error instanceof DatabaseError)) return false;
  return error.code.startsWith("08") || UNAVAILABLE_SQLSTATES.has(error.code) ||
    CONNECTION_LOSS_CODES.has(error.code);
}
