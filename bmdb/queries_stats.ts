/**
 * Counts for dashboards, metrics and `deno task start`. Work and sessions
 * count only while alive; backoffs only while active (`until > now()`).
 * Eligibility counts use the workflow predicates themselves.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { OPERATOR_PROCESSES, type Process, type Provider } from "./model.ts";
import type { QuerySpec } from "./query.ts";
import {
  agentRecoveryEligible,
  agentStartEligible,
  type RecoveryTimeouts,
  resolveRecoveryTimeouts,
} from "./queries_workflows.ts";
import { raw, type Sql, sql } from "./sql.ts";
import * as check from "./validate.ts";

const MP = raw("mp");

function count(name: string, statement: Sql): QuerySpec<number> {
  return { name, kind: "read", build: () => statement, map: (rows) => Number(rows[0]?.count ?? 0) };
}

/** Per-process counts, with every operator process present (0 when none); test-only processes are left out. */
export type ProcessCounts = Partial<Record<Process, number>>;

/** Rows of `process` and a count (in `column`) as counts for every operator process. */
export function byProcess(rows: Row[], column = "count"): ProcessCounts {
  const out: ProcessCounts = Object.fromEntries(OPERATOR_PROCESSES.map((p) => [p, 0]));
  for (const r of rows) {
    if ((OPERATOR_PROCESSES as readonly string[]).includes(r.process as string)) {
      out[r.process as Process] = Number(r[column]);
    }
  }
  return out;
}

function providerFilter(provider: Provider | undefined): Sql {
  return provider === undefined ? raw("") : sql`AND mp.provider = ${provider}::text`;
}

export function countMachines(): QuerySpec<number> {
  return count("countMachines", sql`SELECT count(*)::int AS count FROM machines`);
}

export function countMachinesProvided(): QuerySpec<number> {
  return count("countMachinesProvided", sql`SELECT count(*)::int AS count FROM machine_provided`);
}

/** Sessions whose deadline has not passed. */
export function countLiveSessions(): QuerySpec<number> {
  return count("countLiveSessions", sql`SELECT count(*)::int AS count FROM sessions WHERE session_deadline > now()`);
}

/** Work held by live sessions, per process. */
export function countActiveWork(): QuerySpec<ProcessCounts> {
  return {
    name: "countActiveWork",
    kind: "read",
    build: () =>
      sql`SELECT w.process, count(*)::int AS count FROM work_slot w
          JOIN sessions s ON s.session_id = w.session_id AND s.session_deadline > now()
          GROUP BY w.process`,
    map: (rows) => byProcess(rows),
  };
}

/** Backoffs that have not run out, per process. */
export function countActiveBackoffs(): QuerySpec<ProcessCounts> {
  return {
    name: "countActiveBackoffs",
    kind: "read",
    build: () => sql`SELECT process, count(*)::int AS count FROM work_backoff WHERE until > now() GROUP BY process`,
    map: (rows) => byProcess(rows),
  };
}

/** Provided machines whose agent heartbeated within `withinSeconds`. */
export function countMachinesAgentHeartbeating(params: { withinSeconds?: number } = {}): QuerySpec<number> {
  const within = check.integer("withinSeconds", check.options("params", params).withinSeconds ?? 600, {
    min: 1,
    max: 86400 * 30,
  });
  return count(
    "countMachinesAgentHeartbeating",
    sql`SELECT count(*)::int AS count FROM machine_provided mp
        JOIN machine_agent_heartbeat h ON h.machine_id = mp.machine_id
        WHERE h.agent_heartbeat_at > now() - ${within}::int * interval '1 second'`,
  );
}

/**
 * Machines whose agent was started and has been quiet for `forSeconds`: no heartbeat since then (or none at all
 * since its start). What the "agent heartbeats stale" alert watches; the recoverer acts on them later, at its timeouts.
 */
export function countAgentsQuiet(params: { forSeconds?: number } = {}): QuerySpec<number> {
  const quiet = check.integer("forSeconds", check.options("params", params).forSeconds ?? 60, {
    min: 1,
    max: 86400 * 30,
  });
  return count(
    "countAgentsQuiet",
    sql`SELECT count(*)::int AS count FROM machine_agent_started a
        LEFT JOIN machine_agent_heartbeat h ON h.machine_id = a.machine_id
        WHERE GREATEST(a.agent_started_at, h.agent_heartbeat_at) < now() - ${quiet}::int * interval '1 second'`,
  );
}

/** Machines with an installation request that has no matching report yet. */
export function countMachinesInstallationPending(): QuerySpec<number> {
  return count(
    "countMachinesInstallationPending",
    sql`SELECT count(*)::int AS count FROM machine_os_installation_request r
        LEFT JOIN machine_os_installation_report p ON p.machine_id = r.machine_id
        WHERE p.generation IS DISTINCT FROM r.generation`,
  );
}

/** Machines whose current installation request has a matching report. */
export function countMachinesInstallationComplete(): QuerySpec<number> {
  return count(
    "countMachinesInstallationComplete",
    sql`SELECT count(*)::int AS count FROM machine_os_installation_request r
        JOIN machine_os_installation_report p ON p.machine_id = r.machine_id AND p.generation = r.generation`,
  );
}

/** Machines eligible for agent start (the same predicate the initializer claims with). */
export function countMachinesForAgentStart(params: { provider?: Provider } = {}): QuerySpec<number> {
  const p = check.options("params", params);
  const provider = p.provider === undefined ? undefined : check.provider("provider", p.provider);
  return count(
    "countMachinesForAgentStart",
    sql`SELECT count(*)::int AS count FROM machine_provided mp WHERE ${agentStartEligible(MP)} ${
      providerFilter(provider)
    }`,
  );
}

/** Machines eligible for agent recovery (the same predicate the recoverer claims with). */
export function countMachinesForAgentRecovery(
  params: { provider?: Provider } & RecoveryTimeouts = {},
): QuerySpec<number> {
  const p = check.options("params", params);
  const provider = p.provider === undefined ? undefined : check.provider("provider", p.provider);
  const timeouts = resolveRecoveryTimeouts(p);
  return count(
    "countMachinesForAgentRecovery",
    sql`SELECT count(*)::int AS count FROM machine_provided mp
        WHERE ${agentRecoveryEligible(MP, timeouts)} ${providerFilter(provider)}`,
  );
}

/** The headline numbers, in one round trip. */
export interface BmdbCounts {
  machines: number;
  liveSessions: number;
  activeWork: ProcessCounts;
  activeBackoffs: ProcessCounts;
}

/** {@linkcode BmdbCounts} in one statement. */
export function getCounts(): QuerySpec<BmdbCounts> {
  return {
    name: "getCounts",
    kind: "read",
    build: () =>
      sql`SELECT 'machines' AS kind, NULL AS process, count(*)::int AS count FROM machines
          UNION ALL SELECT 'sessions', NULL, count(*)::int FROM sessions WHERE session_deadline > now()
          UNION ALL SELECT 'work', w.process, count(*)::int FROM work_slot w
            JOIN sessions s ON s.session_id = w.session_id AND s.session_deadline > now() GROUP BY w.process
          UNION ALL SELECT 'backoff', process, count(*)::int FROM work_backoff WHERE until > now() GROUP BY process`,
    map: (rows) => ({
      machines: Number(rows.find((r) => r.kind === "machines")?.count ?? 0),
      liveSessions: Number(rows.find((r) => r.kind === "sessions")?.count ?? 0),
      activeWork: byProcess(rows.filter((r) => r.kind === "work")),
      activeBackoffs: byProcess(rows.filter((r) => r.kind === "backoff")),
    }),
  };
}
