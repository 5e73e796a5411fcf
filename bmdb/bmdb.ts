/**
 * Opening the BMDB, starting sessions, and operator actions.
 *
 * @module
 */
import { type ChangeFeed, type ChangeFeedOptions, type ChangeFeedValues, openChangeFeed } from "./change_feed.ts";
import { AgentReportRecorder } from "./agent_reports.ts";
import { ClaimBatcher } from "./claim_batcher.ts";
import { CommitBatcher } from "./commit_batcher.ts";
import { CommitAndClaimRunner } from "./commit_and_claim.ts";
import type { Driver } from "./driver.ts";
import { type DatabaseError, MachineNotFoundError, WorkNotFoundError } from "./errors.ts";
import { type Logger, stderrLogger } from "./log.ts";
import { loadMigrations, migrate, type MigrationResult } from "./migrate.ts";
import type { Process } from "./model.ts";
import type { Queries } from "./queries.ts";
import type { AgentReport, AgentReportOutcome } from "./queries_agent.ts";
import { machineClearSshHostKey } from "./queries_owned.ts";
import { NO_GUARD } from "./query.ts";
import { pruneHistoryBatch } from "./queries_janitor.ts";
import { createSession, reapExpiredSessions } from "./queries_session.ts";
import { requestWorkCancel, retryMachine, toCancelRequestResult } from "./queries_work.ts";
import { Session } from "./session.ts";
import { render, type Sql, sql } from "./sql.ts";
import { LazyTransaction, retrying } from "./transaction.ts";
import * as check from "./validate.ts";

/** Options for {@linkcode openBmdb}. */
export interface OpenBmdbOptions {
  /** Name of the component, stored with its sessions (e.g. "initializer"). */
  component: string;
  /** PostgreSQL or CockroachDB. Without it, the embedded PGlite is used. */
  databaseUrl?: string;
  /** PGlite's directory (created if missing). Without it (and without `databaseUrl`), an in-memory database. */
  dataDir?: string;
  /** Aborting it while opening rejects; after that, it is the parent of every session's signal. */
  signal?: AbortSignal;
  /** Bring the schema up to date while opening. @default true */
  migrate?: boolean;
  /** How long to wait for PostgreSQL before giving up. @default 10 */
  connectTimeoutSeconds?: number;
  /** Connections in PostgreSQL's work pool. @default 20 */
  poolSize?: number;
  logger?: Logger;
}

/** Counters since open: claims, conflicts and transaction retries. */
export interface BmdbCounters {
  claims: number;
  conflicts: number;
  transactionRetries: number;
}

function defaultRuntimeInfo(): string {
  let host = "unknown-host";
  try {
    host = Deno.hostname();
  } catch {
    // --allow-sys not granted
  }
  return `${host} pid ${Deno.pid}`;
}

/**
 * Connects to the BMDB and (by default) migrates it.
 * @throws {DatabaseUnavailableError} PostgreSQL did not answer within `connectTimeoutSeconds` (message: host and port, never the password).
 * @throws {InvalidArgumentError} bad options (nothing was opened).
 * @throws {MigrationError} the schema cannot be brought up to date.
 */
export async function openBmdb(options: OpenBmdbOptions): Promise<Bmdb> {
  const o = check.options("options", options);
  const component = check.text("component", o.component, { maxLength: 200 });
  const connectTimeoutSeconds = check.integer("connectTimeoutSeconds", o.connectTimeoutSeconds ?? 10, {
    min: 1,
    max: 600,
  });
  const poolSize = check.integer("poolSize", o.poolSize ?? 20, { min: 1, max: 1000 });
  if (o.databaseUrl !== undefined) check.text("databaseUrl", o.databaseUrl, { maxLength: 4096 });
  if (o.dataDir !== undefined) check.text("dataDir", o.dataDir, { maxLength: 4096 });
  o.signal?.throwIfAborted();

  // Each driver is loaded only when used: the other's package costs memory.
  const driver = o.databaseUrl !== undefined
    ? await (await import("./driver_postgres.ts")).openPostgresDriver({
      url: o.databaseUrl,
      poolSize,
      connectTimeoutSeconds,
      applicationName: `drover ${component}`.slice(0, 63),
      signal: o.signal,
      logger: o.logger,
    })
    : await (await import("./driver_pglite.ts")).openPgliteDriver({ dataDir: o.dataDir });
  return await openBmdbOnDriver(driver, { ...o, component });
}

/**
 * Opens the BMDB on a driver that is already connected; the Bmdb owns it from
 * here on. Internal (not in mod.ts): `openBmdb` and the test harness use it.
 */
export async function openBmdbOnDriver(
  driver: Driver,
  o: Pick<OpenBmdbOptions, "component" | "signal" | "migrate" | "logger">,
): Promise<Bmdb> {
  try {
    o.signal?.throwIfAborted();
    const migration = o.migrate === false ? undefined : await migrate(driver);
    return new Bmdb(driver, { component: o.component, logger: o.logger ?? stderrLogger, migration, signal: o.signal });
  } catch (error) {
    await driver.close().catch(() => {});
    throw error;
  }
}

/** Options for {@linkcode Bmdb.startSession}. */
export interface StartSessionOptions {
  /** Seconds between the deadline and now at each heartbeat; heartbeats run every half of it. @default 5 */
  intervalSeconds?: number;
  /** Aborting it stops the heartbeats and leaves the row to expire at its deadline, as a crash would. */
  signal?: AbortSignal;
  /** Where the component runs (host, pid, version). @default "<hostname> pid <pid>" */
  runtimeInfo?: string;
}

/**
 * The BMDB, opened for one component. Holds the connection pool; sessions,
 * transactions and work go through it.
 */
export class Bmdb {
  readonly component: string;
  /** Where it is connected, e.g. `PostgreSQL at db:5432/drover as drover` or `PGlite in ./data`. */
  readonly target: string;
  /** What opening did to the schema (undefined with `migrate: false`). */
  readonly migration: MigrationResult | undefined;
  readonly counters: BmdbCounters = { claims: 0, conflicts: 0, transactionRetries: 0 };

  readonly #driver: Driver;
  readonly #claims: ClaimBatcher;
  readonly #commits: CommitBatcher;
  readonly #commitsAndClaims: CommitAndClaimRunner;
  readonly #agentReports: AgentReportRecorder;
  readonly #logger: Logger;
  readonly #signal: AbortSignal | undefined;
  readonly #sessions = new Set<Session>();
  readonly #feeds = new Set<ChangeFeed>();
  #closed = false;

  /** @internal Use {@linkcode openBmdb}. */
  constructor(
    driver: Driver,
    init: { component: string; logger: Logger; migration?: MigrationResult; signal?: AbortSignal },
  ) {
    this.#driver = driver;
    this.component = init.component;
    this.target = driver.target;
    this.migration = init.migration;
    this.#logger = init.logger;
    this.#signal = init.signal;
    const onRetry = (what: string) => (error: DatabaseError, count: number) => {
      this.counters.transactionRetries += count;
      this.#logger.debug(`${what} batch retried`, { code: error.code, count, error });
    };
    this.#claims = new ClaimBatcher(driver, onRetry("claim"));
    this.#commits = new CommitBatcher(driver, onRetry("commit"));
    this.#commitsAndClaims = new CommitAndClaimRunner(driver, onRetry("commit and claim"));
    this.#agentReports = new AgentReportRecorder(driver, (error) => onRetry("agent report")(error, 1));
  }

  /**
   * How batching went: claims through workflow queries, composed commits, and
   * commits with the next claim (`finishAndClaim`), each with the statements
   * that served them.
   */
  get batches(): Record<
    "claims" | "commits" | "commitsAndClaims" | "agentReports",
    { batches: number; requests: number }
  > {
    return {
      claims: this.#claims.stats,
      commits: this.#commits.stats,
      commitsAndClaims: this.#commitsAndClaims.stats,
      agentReports: this.#agentReports.stats,
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error(`The BMDB connection of ${this.component} is closed`);
  }

  async #run(statement: Sql, isolation: "serializable" | "read committed") {
    const { text, params } = render(statement);
    return await retrying(() => this.#driver.query(text, params, isolation), {
      signal: this.#signal ?? new AbortController().signal,
      onRetry: (error) => {
        this.counters.transactionRetries++;
        this.#logger.debug("statement retried", { code: error.code, error });
      },
    });
  }

  /**
   * Starts a session and its heartbeats.
   * @throws {InvalidArgumentError} `intervalSeconds` not an integer in 1..3600, or a bad `runtimeInfo`.
   */
  async startSession(options: StartSessionOptions = {}): Promise<Session> {
    this.#assertOpen();
    const o = check.options("options", options);
    const intervalSeconds = check.integer("intervalSeconds", o.intervalSeconds ?? 5, { min: 1, max: 3600 });
    const runtimeInfo = check.text("runtimeInfo", o.runtimeInfo ?? defaultRuntimeInfo(), { maxLength: 1024 });
    const parent = o.signal && this.#signal ? AbortSignal.any([o.signal, this.#signal]) : o.signal ?? this.#signal;
    parent?.throwIfAborted();
    const sentAt = performance.now();
    const rows = await this.#run(
      createSession({ component: this.component, runtimeInfo, intervalSeconds }),
      "read committed",
    );
    const session = new Session({
      driver: this.#driver,
      claims: this.#claims,
      commits: this.#commits,
      commitsAndClaims: this.#commitsAndClaims,
      logger: this.#logger,
      counters: this.counters,
      onClosed: (s) => this.#sessions.delete(s),
    }, { sessionId: rows[0].session_id as string, intervalSeconds, sentAt, parent });
    this.#sessions.add(session);
    session.startHeartbeats();
    this.#logger.debug("session started", { sessionId: session.sessionId, component: this.component });
    return session;
  }

  /**
   * An operator asks to cancel work. A live owner sees `work.signal` abort
   * within one heartbeat and its next `finish`, `fail` or `cancel` releases the
   * machine as Canceled (actor: this operator), committing nothing. Work of a
   * dead session is released at once.
   * @throws {MachineNotFoundError} no such machine.
   * @throws {WorkNotFoundError} no such work running.
   * @throws {InvalidArgumentError} bad machine id, process or actor.
   */
  async requestWorkCancel(params: { machineId: string; process: Process; actor: string }): Promise<void> {
    this.#assertOpen();
    const p = check.options("params", params);
    const machineId = check.uuid("machineId", p.machineId);
    const process = check.process("process", p.process);
    const actor = check.text("actor", p.actor, { maxLength: 200 });
    const result = toCancelRequestResult(
      await this.#run(requestWorkCancel({ machineId, process, actor }), "serializable"),
    );
    if (!result.machineFound) throw new MachineNotFoundError(machineId);
    if (!result.workFound) throw new WorkNotFoundError(machineId, process);
    this.#logger.info("work cancel requested", { machineId, process, actor, ownerAlive: result.ownerAlive });
  }

  /**
   * An operator clears a machine's backoff for one process (or all), so it is
   * eligible at once. History: Retried with the actor, even when there was no
   * backoff. Returns how many backoffs were deleted.
   * @throws {MachineNotFoundError} no such machine.
   * @throws {InvalidArgumentError} bad machine id, process or actor.
   */
  async retryMachine(params: { machineId: string; process?: Process; actor: string }): Promise<number> {
    this.#assertOpen();
    const p = check.options("params", params);
    const machineId = check.uuid("machineId", p.machineId);
    const process = p.process === undefined ? null : check.process("process", p.process);
    const actor = check.text("actor", p.actor, { maxLength: 200 });
    const rows = await this.#run(retryMachine({ machineId, process, actor }), "serializable");
    if (Number(rows[0].machine_found) === 0) throw new MachineNotFoundError(machineId);
    const deleted = Number(rows[0].deleted);
    this.#logger.info("machine retried", { machineId, process: process ?? "all", actor, backoffsDeleted: deleted });
    return deleted;
  }

  /**
   * An operator's clearing of the SSH host key a machine presented on first
   * use (it was reinstalled, say): the next connection records the key it
   * presents then. Recorded in history (HostKeyCleared) with the actor, even
   * when no key was recorded. Returns the key cleared, or null.
   * @throws {MachineNotFoundError} no such machine (nothing written).
   * @throws {InvalidArgumentError} a bad machine id or actor.
   */
  async clearSshHostKey(params: { machineId: string; actor: string }): Promise<string | null> {
    this.#assertOpen();
    const spec = machineClearSshHostKey(params);
    const { machineFound, cleared } = spec.map(await this.#run(spec.build(NO_GUARD), "serializable"));
    if (!machineFound) throw new MachineNotFoundError(params.machineId);
    this.#logger.info("SSH host key cleared", { machineId: params.machineId, actor: params.actor, cleared });
    return cleared;
  }

  /**
   * The janitor's step: deletes sessions whose deadline passed more than
   * `graceSeconds` ago and releases their work (history Expired).
   */
  async reapExpiredSessions(options: { graceSeconds?: number } = {}): Promise<{ sessions: number; work: number }> {
    this.#assertOpen();
    const graceSeconds = check.integer("graceSeconds", check.options("options", options).graceSeconds ?? 60, {
      min: 0,
      max: 86400 * 365,
    });
    const rows = await this.#run(reapExpiredSessions({ graceSeconds }), "read committed");
    const result = { sessions: Number(rows[0].sessions), work: Number(rows[0].work) };
    if (result.sessions > 0) this.#logger.info("reaped expired sessions", result);
    return result;
  }

  /**
   * Deletes history older than `olderThanSeconds`, in short statements of
   * `batchSize` rows, and returns how many rows went. Safe to run from
   * several replicas at once.
   * @throws {InvalidArgumentError} olderThanSeconds below one hour or not an integer; batchSize out of 1..100,000.
   */
  async pruneHistory(options: { olderThanSeconds: number; batchSize?: number }): Promise<{ deleted: number }> {
    this.#assertOpen();
    const o = check.options("options", options);
    const olderThanSeconds = check.integer("olderThanSeconds", o.olderThanSeconds, { min: 3600, max: 86400 * 36500 });
    const batchSize = check.integer("batchSize", o.batchSize ?? 1000, { min: 1, max: 100_000 });
    let deleted = 0;
    for (;;) {
      const rows = await this.#run(pruneHistoryBatch({ olderThanSeconds, batchSize }), "read committed");
      const n = Number(rows[0].deleted);
      deleted += n;
      if (n < batchSize) break;
    }
    if (deleted > 0) this.#logger.info("pruned history", { deleted, olderThanSeconds });
    return { deleted };
  }

  /**
   * Records an agent's signed request (verified by the caller against
   * `agentPublicKey`): its heartbeat, and its hardware report if it carries
   * one. Only while that key is still the machine's agent key and `sentAt`
   * is later than the last recorded request: a replay, on whichever replica,
   * changes nothing. Concurrent calls share statements.
   * @throws {InvalidArgumentError} bad machine id, key, time or report (nothing written).
   */
  async recordAgentReport(report: AgentReport): Promise<AgentReportOutcome> {
    this.#assertOpen();
    const r = check.options("report", report);
    const valid: AgentReport = {
      machineId: check.uuid("machineId", r.machineId),
      agentPublicKey: check.bytes("agentPublicKey", r.agentPublicKey, { maxBytes: 4096 }),
      sentAt: check.date("sentAt", r.sentAt),
      hardwareReportRaw: r.hardwareReportRaw === undefined
        ? undefined
        : check.bytes("hardwareReportRaw", r.hardwareReportRaw, { maxBytes: 1024 * 1024 }),
    };
    return await this.#agentReports.record(valid);
  }

  /**
   * Whether this process can serve: the database answers and every migration
   * this build knows is applied. Never throws: a problem is in `problem`.
   */
  async readiness(): Promise<{ ready: boolean; problem?: string }> {
    try {
      this.#assertOpen();
      const [rows, known] = await Promise.all([
        this.#run(sql`SELECT version FROM schema_migrations`, "read committed"),
        loadMigrations(),
      ]);
      const applied = new Set(rows.map((r) => r.version as string));
      const missing = known.filter((m) => !applied.has(m.version)).map((m) => m.name);
      if (missing.length > 0) return { ready: false, problem: `migrations not applied: ${missing.join(", ")}` };
      return { ready: true };
    } catch (error) {
      return { ready: false, problem: `database: ${(error as Error).message}` };
    }
  }

  /**
   * Runs `fn(q)` in a read-only transaction on one consistent snapshot, without
   * a session: for dashboards, metrics and tools.
   */
  async read<T>(fn: (q: Queries) => T | PromiseLike<T>): Promise<T> {
    this.#assertOpen();
    const tx = new LazyTransaction(this.#driver, { isolation: "repeatable read", readOnly: true });
    try {
      const result = await fn(tx.q);
      await tx.commit();
      return result;
    } catch (error) {
      await tx.rollback();
      throw error;
    }
  }

  /**
   * Starts the change feed: keeps `values` (counts, live sessions, active
   * work, active backoffs) current as the database changes: through
   * LISTEN/NOTIFY on PostgreSQL, in-process on PGlite, and a cheap poll
   * where there is no NOTIFY (CockroachDB).
   * Resolves once every value has been set. Open one per process and share
   * its values; close it with `close()` (or let `Bmdb.close()` do it).
   * @throws {InvalidArgumentError} bad options, or `mode: "notify"` on a database without NOTIFY.
   * @throws {DatabaseError} the first read failed (nothing is left running).
   */
  async openChangeFeed<V extends ChangeFeedValues>(options: ChangeFeedOptions<V>): Promise<ChangeFeed<V>> {
    this.#assertOpen();
    const feed = await openChangeFeed({
      driver: this.#driver,
      logger: this.#logger,
      onClosed: (f) => this.#feeds.delete(f),
    }, options);
    if (this.#closed) {
      await feed.close(); // the Bmdb closed while the feed opened
      this.#assertOpen();
    }
    this.#feeds.add(feed as ChangeFeed<ChangeFeedValues>);
    return feed;
  }

  /** Closes change feeds and open sessions (in order: their work is released as Canceled), then the connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([...this.#feeds].map((f) => f.close()));
    await Promise.all([...this.#sessions].map((s) => s.close()));
    await this.#driver.close();
  }
}
