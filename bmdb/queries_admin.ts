/**
 * Reads for the admin API that the change feed does not keep: live sessions
 * with their deadlines (heartbeats move them, so the feed leaves them out),
 * and claims and failures per minute over the last hour.
 *
 * @module
 */
import type { QuerySpec } from "./query.ts";
import type { WorkBackoff } from "./queries_base.ts";
import {
  type ActiveWork,
  type FeedList,
  listActiveBackoffs,
  listActiveWork,
  toActiveBackoffs,
  toActiveWork,
} from "./queries_feed.ts";
import type { ProcessCounts } from "./queries_stats.ts";
import { type Sql, sql } from "./sql.ts";
import type { Row } from "./driver.ts";
import * as check from "./validate.ts";

/** A live session, with its deadline. */
export interface LiveSession {
  sessionId: string;
  component: string;
  runtimeInfo: string;
  createdAt: Date;
  intervalSeconds: number;
  deadline: Date;
}

/** Live sessions, oldest first: the first `limit` (1..10,000, default 1,000), and how many there are. */
export function listLiveSessions(params: { limit?: number } = {}): QuerySpec<FeedList<LiveSession>> {
  const limit = check.integer("limit", check.options("params", params).limit ?? 1000, { min: 1, max: 10_000 });
  return {
    name: "listLiveSessions",
    kind: "read",
    build: () =>
      sql`SELECT session_id, session_component_name, session_runtime_info, session_created_at,
          session_interval_seconds, session_deadline, count(*) OVER ()::int AS total
        FROM sessions WHERE session_deadline > now()
        ORDER BY session_created_at, session_id LIMIT ${limit}::int`,
    map: (rows) => ({
      // count(*) OVER () is computed before the LIMIT: the total of all live sessions.
      total: rows.length === 0 ? 0 : Number(rows[0].total),
      rows: rows.map((r) => ({
        sessionId: r.session_id as string,
        component: r.session_component_name as string,
        runtimeInfo: r.session_runtime_info as string,
        createdAt: r.session_created_at as Date,
        intervalSeconds: Number(r.session_interval_seconds),
        deadline: r.session_deadline as Date,
      })),
    }),
  };
}

/** Per-minute counts, oldest minute first, ending with the current minute. */
export interface HistoryRates {
  bucketSeconds: 60;
  /** Start of the oldest bucket. */
  since: Date;
  /** Work Started (claims) per bucket. */
  claims: number[];
  /** Work Failed per bucket. */
  failures: number[];
}

/** Claims and failures per minute over the last `minutes` (1..1440, default 60), by the database's clock. */
export function historyRates(params: { minutes?: number } = {}): QuerySpec<HistoryRates> {
  const minutes = check.integer("minutes", check.options("params", params).minutes ?? 60, { min: 1, max: 1440 });
  return {
    name: "historyRates",
    kind: "read",
    build: () =>
      sql`WITH t AS (SELECT date_trunc('minute', now()) - (${minutes - 1}::int * interval '1 minute') AS since)
        SELECT t.since, h.bucket, h.event, h.n FROM t LEFT JOIN LATERAL (
          SELECT floor(EXTRACT(EPOCH FROM (w.timestamp - t.since)) / 60)::int AS bucket, w.event, count(*)::int AS n
          FROM work_history w WHERE w.timestamp >= t.since AND w.event IN ('Started', 'Failed')
          GROUP BY 1, 2) h ON true`,
    map: (rows) => {
      const claims = new Array<number>(minutes).fill(0);
      const failures = new Array<number>(minutes).fill(0);
      for (const r of rows) {
        if (r.bucket == null) continue;
        const i = Number(r.bucket);
        if (i < 0 || i >= minutes) continue;
        (r.event === "Started" ? claims : failures)[i] += Number(r.n);
      }
      return { bucketSeconds: 60, since: rows[0].since as Date, claims, failures };
    },
  };
}

/** A list with its total and its count per process. */
export type ListByProcess<T> = FeedList<T> & { byProcess: ProcessCounts };

/** A feed topic's statement as a read: the first `limit` (1..10,000, default 1,000), the total, per process. */
function listedByProcess<T>(
  name: string,
  params: { limit?: number },
  statement: (p: { limit: number }) => Sql,
  toResult: (rows: Row[]) => { list: FeedList<T>; byProcess?: ProcessCounts },
): QuerySpec<ListByProcess<T>> {
  const limit = check.integer("limit", check.options("params", params).limit ?? 1000, { min: 1, max: 10_000 });
  return {
    name,
    kind: "read",
    build: () => statement({ limit }),
    map: (rows) => {
      const { list, byProcess } = toResult(rows);
      return { ...list, byProcess: byProcess! };
    },
  };
}

/** Work held by live sessions, oldest first, with the total and the count per process. */
export function listWork(params: { limit?: number } = {}): QuerySpec<ListByProcess<ActiveWork>> {
  return listedByProcess("listWork", params, listActiveWork, toActiveWork);
}

/** Backoffs that have not run out, soonest to end first, with the total and the count per process. */
export function listBackoffs(params: { limit?: number } = {}): QuerySpec<ListByProcess<WorkBackoff>> {
  return listedByProcess("listBackoffs", params, listActiveBackoffs, toActiveBackoffs);
}
