/**
 * Machines, work history and backoffs: the base queries on `q`.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import type { HistoryEvent, Process } from "./model.ts";
import type { QuerySpec } from "./query.ts";
import { sql } from "./sql.ts";
import * as check from "./validate.ts";

/** A row of `machines`. */
export interface Machine {
  machineId: string;
  machineCreatedAt: Date;
}

/** A row of `work_history`. */
export interface HistoryEntry {
  historyId: number;
  machineId: string;
  /** Null only for a machine-wide operator action (Retried for all processes). */
  process: Process | null;
  event: HistoryEvent;
  timestamp: Date;
  failedCause: string | null;
  sessionId: string | null;
  actor: string | null;
  /** What an operator action did (power actions: the ResetTypes sent; a host key cleared), else null. */
  detail: string | null;
}

/** A row of `work_backoff`. */
export interface WorkBackoff {
  machineId: string;
  process: Process;
  cause: string;
  until: Date;
  lastIntervalSeconds: number;
}

function toMachine(r: Row): Machine {
  return { machineId: r.machine_id as string, machineCreatedAt: r.machine_created_at as Date };
}

export function toHistoryEntry(r: Row): HistoryEntry {
  return {
    historyId: Number(r.history_id),
    machineId: r.machine_id as string,
    process: r.process as Process | null,
    event: r.event as HistoryEvent,
    timestamp: r.timestamp as Date,
    failedCause: r.failed_cause as string | null,
    sessionId: r.session_id as string | null,
    actor: r.actor as string | null,
    detail: (r.detail ?? null) as string | null,
  };
}

export function toWorkBackoff(r: Row): WorkBackoff {
  return {
    machineId: r.machine_id as string,
    process: r.process as Process,
    cause: r.cause as string,
    until: r.until as Date,
    lastIntervalSeconds: Number(r.last_interval_seconds),
  };
}

/** Creates a machine with a fresh id. */
export function newMachine(): QuerySpec<Machine> {
  return {
    name: "newMachine",
    kind: "write",
    build: () => sql`INSERT INTO machines (machine_created_at) VALUES (now()) RETURNING machine_id, machine_created_at`,
    map: (rows) => toMachine(rows[0]),
  };
}

/** A machine's history, oldest first. */
export function listHistoryOf(params: { machineId: string }): QuerySpec<HistoryEntry[]> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  return {
    name: "listHistoryOf",
    kind: "read",
    build: () =>
      sql`SELECT history_id, machine_id, process, event, timestamp, failed_cause, session_id, actor, detail
          FROM work_history WHERE machine_id = ${machineId}::uuid ORDER BY history_id`,
    map: (rows) => rows.map(toHistoryEntry),
  };
}

/** The backoff of a (machine, process), active or not: zero or one row. */
export function workBackoffOf(params: { machineId: string; process: Process }): QuerySpec<WorkBackoff[]> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const process = check.process("process", p.process);
  return {
    name: "workBackoffOf",
    kind: "read",
    build: () =>
      sql`SELECT machine_id, process, cause, until, last_interval_seconds FROM work_backoff
          WHERE machine_id = ${machineId}::uuid AND process = ${process}::text`,
    map: (rows) => rows.map(toWorkBackoff),
  };
}
