/**
 * Session statements: create, heartbeat, close and reap. Internal to the
 * BMDB; `Session` and `Bmdb` run them.
 *
 * Heartbeats, close and reap run at READ COMMITTED: each is one atomic
 * statement, and at that level they stay out of the serializable claims'
 * conflict detection.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { type Sql, sql } from "./sql.ts";

/** Inserts a session whose deadline is `intervalSeconds` from now. Returns `session_id`. */
export function createSession(p: { component: string; runtimeInfo: string; intervalSeconds: number }): Sql {
  return sql`INSERT INTO sessions (session_component_name, session_runtime_info, session_created_at,
      session_interval_seconds, session_deadline)
    VALUES (${p.component}::text, ${p.runtimeInfo}::text, now(), ${p.intervalSeconds}::int,
      now() + ${p.intervalSeconds}::int * interval '1 second')
    RETURNING session_id`;
}

/** What a heartbeat learned. */
export interface HeartbeatResult {
  /** False when the row is gone or past its deadline: the session is over. */
  alive: boolean;
  /** Held work an operator asked to cancel: machine id and the operator. */
  cancelRequested: { machineId: string; process: string; actor: string | null }[];
  /**
   * Work the session holds that the database no longer holds for it: its row
   * is gone (a failover whose new primary never had the claim) or another's.
   */
  lost: { machineId: string; process: string }[];
}

/**
 * Pushes the deadline forward if the session is still alive, and reports, of
 * the work it holds (`held`, probed by primary key), what an operator asked
 * to cancel and what is no longer its own.
 */
export function heartbeat(p: { sessionId: string; held: { machineId: string; process: string }[] }): Sql {
  return sql`WITH poke AS (
      UPDATE sessions SET session_deadline = now() + session_interval_seconds * interval '1 second'
      WHERE session_id = ${p.sessionId}::uuid AND session_deadline > now()
      RETURNING session_id)
    SELECT (SELECT count(*) FROM poke)::int AS alive, h.machine_id, h.process,
      w.machine_id IS NULL AS lost, w.cancel_requested_at IS NOT NULL AS cancel_requested, w.cancel_requested_by
    FROM (SELECT 1) one
    LEFT JOIN unnest(${p.held.map((h) => h.machineId)}::uuid[], ${p.held.map((h) => h.process)}::text[])
      AS h(machine_id, process) ON true
    LEFT JOIN work_slot w ON w.machine_id = h.machine_id AND w.process = h.process
      AND w.session_id = ${p.sessionId}::uuid`;
}

export function toHeartbeatResult(rows: Row[]): HeartbeatResult {
  const held = rows.filter((r) => r.machine_id != null);
  return {
    alive: Number(rows[0]?.alive ?? 0) > 0,
    cancelRequested: held.filter((r) => r.cancel_requested === true).map((r) => ({
      machineId: r.machine_id as string,
      process: r.process as string,
      actor: r.cancel_requested_by as string | null,
    })),
    lost: held.filter((r) => r.lost === true).map((r) => ({
      machineId: r.machine_id as string,
      process: r.process as string,
    })),
  };
}

/**
 * Releases the work the database holds for a session beyond `known` (pairs of
 * `machineIds[i]`, `processes[i]`): claims whose reply was lost, releases that
 * may not have committed. Canceled in the history, with the operator as actor
 * where one had asked to cancel. Returns the released `machine_id`, `process`.
 */
export function releaseUnknownWork(p: { sessionId: string; machineIds: string[]; processes: string[] }): Sql {
  return sql`WITH held AS (
      UPDATE work_slot w SET session_id = NULL, started_at = NULL, cancel_requested_at = NULL, cancel_requested_by = NULL
      FROM (SELECT machine_id, process, cancel_requested_by FROM work_slot
        WHERE session_id = ${p.sessionId}::uuid
          AND (machine_id, process) NOT IN (SELECT * FROM unnest(${p.machineIds}::uuid[], ${p.processes}::text[]))) old
      WHERE w.machine_id = old.machine_id AND w.process = old.process AND w.session_id = ${p.sessionId}::uuid
      RETURNING old.machine_id, old.process, old.cancel_requested_by),
    history AS (
      INSERT INTO work_history (machine_id, process, event, session_id, actor)
      SELECT machine_id, process, 'Canceled', ${p.sessionId}::uuid, cancel_requested_by FROM held)
    SELECT machine_id, process FROM held`;
}

/**
 * The orderly end of a session: releases all its work (Canceled, with the
 * operator as actor where one asked) and deletes the row. Returns `released`.
 */
export function closeSession(p: { sessionId: string }): Sql {
  return sql`WITH held AS (
      UPDATE work_slot w SET session_id = NULL, started_at = NULL, cancel_requested_at = NULL, cancel_requested_by = NULL
      FROM (SELECT machine_id, process, cancel_requested_by FROM work_slot WHERE session_id = ${p.sessionId}::uuid) old
      WHERE w.machine_id = old.machine_id AND w.process = old.process AND w.session_id = ${p.sessionId}::uuid
      RETURNING old.machine_id, old.process, old.cancel_requested_by),
    history AS (
      INSERT INTO work_history (machine_id, process, event, session_id, actor)
      SELECT machine_id, process, 'Canceled', ${p.sessionId}::uuid, cancel_requested_by FROM held),
    gone AS (DELETE FROM sessions WHERE session_id = ${p.sessionId}::uuid RETURNING 1)
    SELECT (SELECT count(*) FROM held)::int AS released`;
}

/**
 * Deletes sessions whose deadline passed more than `graceSeconds` ago and
 * releases their work (Expired; Canceled with the operator as actor where a
 * cancel was requested). A slot another session already took over is left
 * alone (the `session_id` check is re-evaluated on the current row).
 * Returns `sessions` and `work` counts.
 */
export function reapExpiredSessions(p: { graceSeconds: number }): Sql {
  return sql`WITH dead AS (
      SELECT session_id FROM sessions
      WHERE session_deadline < now() - ${p.graceSeconds}::int * interval '1 second'),
    held AS (
      UPDATE work_slot w SET session_id = NULL, started_at = NULL, cancel_requested_at = NULL, cancel_requested_by = NULL
      FROM (SELECT machine_id, process, session_id, cancel_requested_by FROM work_slot
            WHERE session_id IN (SELECT session_id FROM dead)) old
      WHERE w.machine_id = old.machine_id AND w.process = old.process AND w.session_id = old.session_id
      RETURNING old.machine_id, old.process, old.session_id, old.cancel_requested_by),
    history AS (
      INSERT INTO work_history (machine_id, process, event, session_id, actor)
      SELECT machine_id, process, CASE WHEN cancel_requested_by IS NULL THEN 'Expired' ELSE 'Canceled' END,
        session_id, cancel_requested_by
      FROM held),
    gone AS (DELETE FROM sessions WHERE session_id IN (SELECT session_id FROM dead) RETURNING 1)
    SELECT (SELECT count(*) FROM gone)::int AS sessions, (SELECT count(*) FROM held)::int AS work`;
}
