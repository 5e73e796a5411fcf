/**
 * The BMDB driver for PostgreSQL (and CockroachDB) through postgres.js.
 *
 * Two pools: `work` runs with `default_transaction_isolation = serializable`,
 * so a claim or a commit is one statement and one round trip; `control` runs
 * at READ COMMITTED for heartbeats, the janitor, statistics and migrations.
 * `listenForChanges` uses postgres.js's own LISTEN connection (made from the
 * control pool's options), which reconnects and re-LISTENs by itself.
 *
 * @module
 */
import postgres from "postgres";
import {
  type BeginOptions,
  CHANGE_CHANNEL,
  type ChangeHandlers,
  type Driver,
  type DriverTransaction,
  type Isolation,
  type Listening,
  type Row,
} from "./driver.ts";
import { DatabaseError, DatabaseUnavailableError } from "./errors.ts";
import { INDEX_PROBES_ONLY, NO_JIT } from "./planner.ts";
import { type Logger, stderrLogger } from "./log.ts";
import { guardPostgresJsFaults } from "./postgres_js_faults.ts";
import { startWorkDoorbell, type WorkDoorbell } from "./work_doorbell.ts";
import { waitAtMost } from "./wait_at_most.ts";
import { writtenTables } from "./written_tables.ts";
import { parsePostgresUrl } from "./postgres_url.ts";

/** Options for {@linkcode openPostgresDriver}. */
export interface PostgresDriverOptions {
  /** `postgres://user:password@host:port/database`. */
  url: string;
  /** Connections in the work pool. @default 20 */
  poolSize?: number;
  /** How long to wait for the first connection. @default 10 */
  connectTimeoutSeconds?: number;
  /** Shown in `pg_stat_activity`. */
  applicationName?: string;
  signal?: AbortSignal;
  /** Where the driver's own troubles go (see postgres_js_faults.ts). @default stderrLogger */
  logger?: Logger;
}

/**
 * The delay before a pool connection's next connection attempt, in seconds
 * (postgres.js's `backoff`), after `attempt` failed attempts in a row across
 * the pool. postgres.js's own grows as 3^n / 100 s up to 20 s: after a
 * one-second PostgreSQL restart its pools had counted enough refused attempts
 * to wait 10-20 s more before trying again, with the server long back (the
 * BMDB's queries queued behind them all that time, a graceful shutdown ran
 * out of its 10 s). Attempts are cheap, so: 50 ms doubling up to 1 s, jittered.
 */
export function reconnectDelaySeconds(attempt: number): number {
  return Math.min(0.05 * 2 ** attempt, 1) * (0.5 + Math.random() / 2);
}

/** What a rolled-back transaction's callback rejects with (never seen outside this module). */
const ROLLED_BACK = new Error("rolled back");

/** Where a URL points, for messages: never the password. @throws {InvalidArgumentError} a malformed URL. */
export function describePostgresUrl(url: string): string {
  return parsePostgresUrl(url).describe();
}

/** Wraps a postgres.js error into a DatabaseError, keeping the SQLSTATE. */
function toDatabaseError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const e = error as { code?: unknown; message?: unknown; detail?: unknown };
  const code = typeof e?.code === "string" ? e.code : "UNKNOWN";
  const message = typeof e?.message === "string" ? e.message : String(error);
  const detail = typeof e?.detail === "string" && e.detail ? ` (${e.detail})` : "";
  return new DatabaseError(message + detail, code, { cause: error });
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

// postgres.js returns int8 as a string and bytea as a Buffer; PGlite returns a
// number and a Uint8Array. Make both drivers return the same values.
const types = {
  int8: {
    to: 20,
    from: [20],
    serialize: (x: number | bigint | string) => String(x),
    parse: (x: string) => Number(x),
  },
  bytea: {
    to: 17,
    from: [17],
    serialize: (x: Uint8Array) => {
      let hex = "\\x";
      for (const b of x) hex += HEX[b];
      return hex;
    },
    parse: (x: string) => {
      const hex = x.startsWith("\\x") ? x.slice(2) : x;
      const out = new Uint8Array(hex.length / 2);
      for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
      return out;
    },
  },
};

/**
 * The work pool's connections tell the change-feed triggers (their WHEN
 * clauses) that their claims and releases are announced after their commit
 * (the doorbell below) and by the history rows they write, not by NOTIFY
 * inside their transactions, whose lock would put every worker's commit in a
 * row.
 * ONCHANGE(migrations/0008_work_triggers_when.up.sql): the setting's name.
 */
const WORK_CHANGES_IN_HISTORY: Readonly<Record<string, string>> = { "drover.work_changes_in_history": "on" };

/**
 * The shortest time between two of the doorbell's NOTIFYs per table: a change
 * feed re-reads a topic at most every 100 ms anyway, and each NOTIFY is a
 * transaction with a WAL flush of its own (about 20 a second per busy process).
 */
const DOORBELL_INTERVAL_MS = 50;

/**
 * Connects to PostgreSQL or CockroachDB.
 * @throws {DatabaseUnavailableError} when no connection succeeds within `connectTimeoutSeconds`.
 * @throws {InvalidArgumentError} when the URL is malformed.
 */
export async function openPostgresDriver(options: PostgresDriverOptions): Promise<Driver> {
  guardPostgresJsFaults(options.logger ?? stderrLogger);
  const parsed = parsePostgresUrl(options.url);
  const target = parsed.describe();
  const url = parsed.forDriver; // a host list gets target_session_attrs=read-write
  const connectTimeoutSeconds = options.connectTimeoutSeconds ?? 10;
  const common = {
    connect_timeout: connectTimeoutSeconds,
    backoff: reconnectDelaySeconds,
    onnotice: () => {},
    types,
    connection: { application_name: options.applicationName ?? "drover" },
  };
  let control = postgres(url, { ...common, max: 4 });
  // The probe below tells PostgreSQL from CockroachDB; only then can the
  // PostgreSQL-only settings be sent (CockroachDB rejects unknown ones).

  // Probe first, so an unreachable database fails fast with a clear message.
  let version: string;
  const timeout = AbortSignal.timeout(connectTimeoutSeconds * 1000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    const probe = control`SELECT version() AS version`;
    const aborted = new Promise<never>((_, reject) => {
      const onAbort = () =>
        reject(
          signal.reason instanceof DOMException && signal.reason.name === "TimeoutError"
            ? new Error(`no answer within ${connectTimeoutSeconds} s`)
            : signal.reason,
        );
      if (signal.aborted) onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      probe.finally(() => signal.removeEventListener("abort", onAbort)).catch(() => {});
    });
    const rows = await Promise.race([probe, aborted]);
    version = String(rows[0].version);
  } catch (error) {
    await control.end({ timeout: 0 }).catch(() => {});
    const e = error as { code?: string; message?: string };
    const problem = e?.code && e.message?.includes(e.code) === false
      ? `${e.message} (${e.code})`
      : String(e?.message ?? error);
    throw new DatabaseUnavailableError(target, problem, { cause: error });
  }

  const isCockroach = version.includes("CockroachDB");
  // Drover writes: through one host name too (a DNS name or address that a
  // failover moves), every connection must land on a writable server. On a
  // hot standby each query would fail, and so would the array-type fetch
  // postgres.js makes unawaited on a new connection: that crashed the process.
  const writable = isCockroach ? {} : { target_session_attrs: parsed.targetSessionAttrs ?? "read-write" } as const;
  if (!isCockroach) {
    await control.end({ timeout: 5 });
    control = postgres(url, { ...common, ...writable, max: 4, connection: { ...common.connection, ...NO_JIT } });
  }
  const work = postgres(url, {
    ...common,
    ...writable,
    max: options.poolSize ?? 20,
    connection: {
      ...common.connection,
      default_transaction_isolation: "serializable",
      ...(isCockroach ? {} : { ...INDEX_PROBES_ONLY, ...WORK_CHANGES_IN_HISTORY }),
    },
  });
  const pool = (isolation: Isolation | "repeatable read") => isolation === "serializable" ? work : control;
  const logger = options.logger ?? stderrLogger;
  // What the work pool's statements no longer notify (see work_doorbell.ts).
  const doorbell: WorkDoorbell | undefined = isCockroach ? undefined : startWorkDoorbell({
    notify: async (table) => void await control.unsafe("SELECT pg_notify($1, $2)", [CHANGE_CHANNEL, table]),
    minIntervalMs: DOORBELL_INTERVAL_MS,
    onError: (error, failures) => {
      if (failures === 1) logger.warn("change notification after the work pool's commit failed; retrying", { error });
    },
  });

  async function listenForChanges(handlers: ChangeHandlers): Promise<Listening> {
    // postgres.js calls onlisten after the first LISTEN and after each
    // re-LISTEN on a new connection (a restart, a terminated backend).
    const subscription = await control.listen(CHANGE_CHANNEL, handlers.onNotify, handlers.onListen).catch((error) => {
      throw toDatabaseError(error);
    });
    return {
      async close() {
        // UNLISTEN waits for a connection; with the server down, give up
        // after a while (ending the pool drops the LISTEN connection anyway).
        await waitAtMost(subscription.unlisten(), 2_000);
      },
    };
  }

  return {
    kind: "postgres",
    dialect: isCockroach ? "cockroachdb" : "postgresql",
    target: isCockroach ? target.replace("PostgreSQL", "CockroachDB") : target,
    ...(isCockroach ? {} : { listenForChanges, workChangesInHistory: true }),
    async query(text, params, isolation) {
      try {
        const rows = await pool(isolation).unsafe(text, params as postgres.ParameterOrJSON<never>[], {
          prepare: true,
        }) as Row[];
        if (isolation === "serializable") doorbell?.ring(writtenTables(text));
        return rows;
      } catch (error) {
        throw toDatabaseError(error);
      }
    },
    async begin(opts: BeginOptions): Promise<DriverTransaction> {
      // Through postgres.js's own begin(), whose BEGIN is an ordinary query: it
      // fails like one when the server is away. (Its reserve(), used here
      // before, could stay pending for good when called during a restart: the
      // connection it waited for reconnected and never handed it over.) The
      // callback holds the transaction open until commit() or rollback().
      const level = opts.isolation.toUpperCase();
      const mode = `ISOLATION LEVEL ${level}${opts.readOnly ? " READ ONLY" : ""}`;
      const opened = Promise.withResolvers<postgres.TransactionSql>();
      const ending = Promise.withResolvers<void>();
      ending.promise.catch(() => {}); // a rollback; begin() sees it
      const finished = pool(opts.isolation).begin(mode, (tx) => {
        opened.resolve(tx);
        return ending.promise;
      });
      finished.catch((error) => opened.reject(error)); // BEGIN itself failed
      const tx = await opened.promise.catch((error) => {
        throw toDatabaseError(error);
      });
      let open = true;
      // The work pool's writes, announced once the transaction commits.
      const written = new Set<string>();
      const noteWrites = (text: string) => {
        if (opts.isolation === "serializable") { for (const table of writtenTables(text)) written.add(table); }
      };
      return {
        async query(text, params) {
          try {
            noteWrites(text);
            return await tx.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }) as Row[];
          } catch (error) {
            throw toDatabaseError(error);
          }
        },
        async exec(script) {
          try {
            noteWrites(script);
            await tx.unsafe(script);
          } catch (error) {
            throw toDatabaseError(error);
          }
        },
        async commit() {
          open = false;
          ending.resolve();
          // Rejects with the first statement that failed in the transaction
          // (postgres.js then rolls back), or with COMMIT's own failure.
          await finished.catch((error) => {
            throw toDatabaseError(error);
          });
          doorbell?.ring(written);
        },
        async rollback() {
          if (!open) return;
          open = false;
          ending.reject(ROLLED_BACK);
          // The connection may be gone, and with it the transaction.
          await finished.catch(() => {});
        },
      };
    },
    async close() {
      await doorbell?.close();
      await Promise.all([work.end({ timeout: 5 }), control.end({ timeout: 5 })]);
    },
  };
}
