/**
 * The change feed's statements: one per topic (machines, sessions, active
 * work, backoffs), each returning a capped list with its total, and the
 * change-detection poll. Internal to the BMDB; `ChangeFeed` runs them on the
 * control pool (READ COMMITTED), outside the claims' conflict detection.
 *
 * Durations until the next expiry come from the server's clock (`… - now()`),
 * so a skewed client clock does not move the feed's timers.
 *
 * ONCHANGE(queries_stats.ts): live sessions, active work and active backoffs
 * are counted as `getCounts` counts them.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import type { Process } from "./model.ts";
import { toWorkBackoff, type WorkBackoff } from "./queries_base.ts";
import { byProcess, type ProcessCounts } from "./queries_stats.ts";
import { type Sql, sql } from "./sql.ts";

/** A list capped at the feed's limit: `rows` holds the first `limit`, `total` how many there are. */
export interface FeedList<T> {
  total: number;
  rows: T[];
}

/** A live session, as the feed lists it (heartbeats are not changes: no deadline here). */
export interface FeedSession {
  sessionId: string;
  component: string;
  runtimeInfo: string;
  createdAt: Date;
  intervalSeconds: number;
}

/** Work held by a live session. */
export interface ActiveWork {
  machineId: string;
  process: Process;
  sessionId: string;
  /** The component of the session holding it. */
  component: string;
  startedAt: Date;
  /** Set when an operator asked to cancel it (its owner releases it at its next heartbeat). */
  cancelRequestedAt: Date | null;
  cancelRequestedBy: string | null;
}

/** A topic's list, its per-process counts, and (for what expires) milliseconds until the next expiry. */
export interface TopicResult<T> {
  list: FeedList<T>;
  byProcess?: ProcessCounts;
  /** Server time until the earliest row stops counting; undefined when none will. */
  nextExpiryMs?: number;
}

function expiryMs(values: unknown[]): number | undefined {
  const ms = values.filter((v) => v !== null && v !== undefined).map(Number);
  return ms.length ? Math.min(...ms) : undefined;
}

/** Live sessions (oldest first, the first `limit`), their total, and ms until the first deadline. */
export function listLiveSessions(p: { limit: number }): Sql {
  return sql`WITH live AS (
      SELECT session_id, session_component_name, session_runtime_info, session_created_at, session_interval_seconds,
        session_deadline
      FROM sessions WHERE session_deadline > now())
    SELECT t.total, t.next_expiry_ms, s.*
    FROM (SELECT count(*)::int AS total,
        (EXTRACT(EPOCH FROM min(session_deadline) - now()) * 1000)::float8 AS next_expiry_ms FROM live) t
    LEFT JOIN LATERAL (SELECT * FROM live ORDER BY session_created_at, session_id LIMIT ${p.limit}::int) s ON true`;
}

export function toLiveSessions(rows: Row[]): TopicResult<FeedSession> {
  return {
    list: {
      total: Number(rows[0]?.total ?? 0),
      rows: rows.filter((r) => r.session_id != null).map((r) => ({
        sessionId: r.session_id as string,
        component: r.session_component_name as string,
        runtimeInfo: r.session_runtime_info as string,
        createdAt: r.session_created_at as Date,
        intervalSeconds: Number(r.session_interval_seconds),
      })),
    },
    nextExpiryMs: expiryMs([rows[0]?.next_expiry_ms]),
  };
}

/**
 * Work held by live sessions (oldest first, the first `limit`), and one row
 * per process with its total (`machine_id` NULL). `work_slot` has no index on
 * `session_id` (claims must stay HOT updates), so this reads every slot.
 */
export function listActiveWork(p: { limit: number }): Sql {
  return sql`WITH active AS (
      SELECT w.machine_id, w.process, w.session_id, s.session_component_name, w.started_at, w.cancel_requested_at,
        w.cancel_requested_by
      FROM work_slot w JOIN sessions s ON s.session_id = w.session_id AND s.session_deadline > now())
    SELECT process, count(*)::int AS total, NULL::uuid AS machine_id, NULL::uuid AS session_id,
      NULL::text AS session_component_name, NULL::timestamptz AS started_at, NULL::timestamptz AS cancel_requested_at,
      NULL::text AS cancel_requested_by
    FROM active GROUP BY process
    UNION ALL
    (SELECT process, NULL, machine_id, session_id, session_component_name, started_at, cancel_requested_at,
        cancel_requested_by
      FROM active ORDER BY started_at, machine_id, process LIMIT ${p.limit}::int)`;
}

/** Splits a per-process listing: its total rows (`machine_id` NULL) and its listed rows, mapped. */
function perProcessList<T>(rows: Row[], toRow: (row: Row) => T): { totals: Row[]; result: TopicResult<T> } {
  const totals = rows.filter((r) => r.machine_id == null);
  return {
    totals,
    result: {
      list: {
        total: totals.reduce((n, r) => n + Number(r.total), 0),
        rows: rows.filter((r) => r.machine_id != null).map(toRow),
      },
      byProcess: byProcess(totals, "total"),
    },
  };
}

export function toActiveWork(rows: Row[]): TopicResult<ActiveWork> {
  return perProcessList(rows, (r) => ({
    machineId: r.machine_id as string,
    process: r.process as Process,
    sessionId: r.session_id as string,
    component: r.session_component_name as string,
    startedAt: r.started_at as Date,
    cancelRequestedAt: r.cancel_requested_at as Date | null,
    cancelRequestedBy: r.cancel_requested_by as string | null,
  })).result;
}

/**
 * Active backoffs (`until > now()`, an index range scan), the soonest to run
 * out first, the first `limit`; and one row per process with its total and
 * ms until its first one runs out (`machine_id` NULL).
 */
export function listActiveBackoffs(p: { limit: number }): Sql {
  return sql`WITH active AS (
      SELECT machine_id, process, until, cause, last_interval_seconds FROM work_backoff WHERE until > now())
    SELECT process, count(*)::int AS total,
      (EXTRACT(EPOCH FROM min(until) - now()) * 1000)::float8 AS next_expiry_ms, NULL::uuid AS machine_id,
      NULL::timestamptz AS until, NULL::text AS cause, NULL::bigint AS last_interval_seconds
    FROM active GROUP BY process
    UNION ALL
    (SELECT process, NULL, NULL, machine_id, until, cause, last_interval_seconds
      FROM active ORDER BY until, machine_id, process LIMIT ${p.limit}::int)`;
}

export function toActiveBackoffs(rows: Row[]): TopicResult<WorkBackoff> {
  const { totals, result } = perProcessList(rows, toWorkBackoff);
  return { ...result, nextExpiryMs: expiryMs(totals.map((r) => r.next_expiry_ms)) };
}

/** What the change-detection poll reads: see {@linkcode pollForChanges}. */
export interface ChangeFingerprint {
  machines: number;
  sessions: number;
  newestSession: number | null;
  /** The highest `history_id` (as text: CockroachDB's ids exceed 2^53). */
  historyMax: string | null;
  /** History rows above the `since` and `next` watermarks. */
  historyAboveSince: number;
  historyAboveNext: number;
}

/**
 * History's part of a poll: the highest id, and the rows above the `since`
 * and `next` watermarks, counted in one scan of the primary key.
 */
function historyFingerprint(p: { since: string | null; next: string | null }): Sql {
  const since = sql`${p.since}::bigint`;
  const next = sql`${p.next}::bigint`;
  return sql`(SELECT max(history_id) FROM work_history)::text AS history_max, above.since AS history_above_since,
      above.next AS history_above_next
    FROM (SELECT (count(*) FILTER (WHERE history_id > ${since}))::int AS since,
        (count(*) FILTER (WHERE history_id > ${next}))::int AS next
      FROM work_history WHERE history_id > least(${since}, ${next})) above`;
}

/**
 * The poll of databases without NOTIFY, one statement of index probes and
 * small scans: machines and sessions by count (and the newest session), and
 * work and backoffs through `work_history`, which every claim, commit, fail,
 * release, retry and reap writes to. History ids are handed out before
 * commit, so a row can become visible below the highest id already seen:
 * counting the rows above a watermark that trails the highest id (`since`)
 * catches those late ones. `next` is the watermark for the following poll.
 */
export function pollForChanges(p: { since: string | null; next: string | null }): Sql {
  return sql`SELECT (SELECT count(*) FROM machines)::int AS machines,
      (SELECT count(*) FROM sessions)::int AS sessions,
      (SELECT max(session_created_at) FROM sessions) AS newest_session,
      ${historyFingerprint(p)}`;
}

/**
 * The history part of {@linkcode pollForChanges} alone: where NOTIFY reports
 * everything but the work pool's claims and releases (PostgreSQL,
 * `Driver.workChangesInHistory`), which all write history. No count of the
 * fleet.
 */
export function pollHistoryForChanges(p: { since: string | null; next: string | null }): Sql {
  return sql`SELECT 0 AS machines, 0 AS sessions, NULL::timestamptz AS newest_session, ${historyFingerprint(p)}`;
}

export function toChangeFingerprint(rows: Row[]): ChangeFingerprint {
  const r = rows[0] ?? {};
  return {
    machines: Number(r.machines ?? 0),
    sessions: Number(r.sessions ?? 0),
    newestSession: r.newest_session == null ? null : (r.newest_session as Date).getTime(),
    historyMax: (r.history_max as string | null) ?? null,
    historyAboveSince: Number(r.history_above_since ?? 0),
    historyAboveNext: Number(r.history_above_next ?? 0),
  };
}
