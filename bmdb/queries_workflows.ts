/**
 * Workflow queries: which machines a control loop should work on next.
 *
 * Each workflow's eligibility is one predicate, defined here once and used by
 * the candidate query, its count in `queries_stats.ts` and the claim, so they
 * cannot drift apart.
 *
 * Shape, for speed under SERIALIZABLE: candidates are walked in `machine_id`
 * order from a random start (wrapping around), each probed by index for the
 * conditions that exclude it. Workers thus start far apart and rarely meet on
 * one machine, a claim reads only the index pages of the machines it looks
 * at, and the cost does not grow with the fleet. (The work pool's planner
 * settings in `driver_postgres.ts` keep PostgreSQL to exactly these probes.)
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { Process, type Provider, type ProviderStatus, SHEPHERD_PROCESSES } from "./model.ts";
import type { QuerySpec } from "./query.ts";
import { join, raw, type Sql, sql } from "./sql.ts";
import * as check from "./validate.ts";

/** A row of `machine_provided`. */
export interface MachineProvided {
  machineId: string;
  provider: Provider;
  providerId: string;
  providerReservationId: string | null;
  providerIpAddress: string | null;
  providerLocation: string | null;
  providerStatus: ProviderStatus | null;
  /** The machine's BMC (origin and system path), or null: no BMC, no power control (Inventory only). */
  providerBmc: string | null;
  /** When an operator powered it off through Drover: no loop touches it until it is powered on again. */
  providerHeldOffAt: Date | null;
}

export function toMachineProvided(r: Row): MachineProvided {
  return {
    machineId: r.machine_id as string,
    provider: r.provider as Provider,
    providerId: r.provider_id as string,
    providerReservationId: r.provider_reservation_id as string | null,
    providerIpAddress: r.provider_ip_address as string | null,
    providerLocation: r.provider_location as string | null,
    providerStatus: r.provider_status as ProviderStatus | null,
    providerBmc: (r.provider_bmc ?? null) as string | null,
    providerHeldOffAt: (r.provider_held_off_at ?? null) as Date | null,
  };
}

/** The columns of {@linkcode MachineProvided}, of `machine_provided mp`. */
export const PROVIDED_COLUMNS = raw(
  "mp.machine_id, mp.provider, mp.provider_id, mp.provider_reservation_id, " +
    "mp.provider_ip_address, mp.provider_location, mp.provider_status, mp.provider_bmc, mp.provider_held_off_at",
);

/** `'A', 'B'` for a constant list of processes (trusted constants, so inlined for the planner). */
function processList(processes: readonly Process[]): Sql {
  return raw(processes.map((p) => `'${p}'`).join(", "));
}

/** Work of one of `processes` on the machine, held by a live session. Dead sessions' work does not count. */
export function liveWorkOn(machine: Sql, processes: readonly Process[]): Sql {
  return sql`EXISTS (SELECT 1 FROM work_slot w JOIN sessions s ON s.session_id = w.session_id
    WHERE w.machine_id = ${machine} AND w.process IN (${processList(processes)}) AND s.session_deadline > now())`;
}

/** A backoff of `process` on the machine that has not run out. */
export function activeBackoffOn(machine: Sql, process: Process): Sql {
  return sql`EXISTS (SELECT 1 FROM work_backoff b
    WHERE b.machine_id = ${machine} AND b.process IN (${processList([process])}) AND b.until > now())`;
}

/**
 * The machine's OS installation request was fulfilled: a successful report of
 * the same generation. Such a machine runs its OS, not the agent, so neither
 * agent start nor recovery touches it.
 */
export function installationFulfilled(machine: Sql): Sql {
  return sql`EXISTS (SELECT 1 FROM machine_os_installation_request r
    JOIN machine_os_installation_report p ON p.machine_id = r.machine_id AND p.generation = r.generation
    WHERE r.machine_id = ${machine} AND p.os_installation_result = 'Success')`;
}

/**
 * One condition of a workflow's eligibility, for the `machine_provided` row
 * aliased `mp`. A workflow's predicate is the AND of its conditions, and
 * "why is this machine idle" evaluates the same conditions one by one, so
 * the two cannot drift apart.
 */
export interface EligibilityCondition {
  /** Stable name, e.g. "noAgentStarted". */
  name: string;
  /** What it means when it does not hold, as an operator reads it. */
  unmet: string;
  holds(mp: Sql): Sql;
}

const machineOf = (mp: Sql) => sql`${mp}.machine_id`;

const NO_SHEPHERD_WORK: EligibilityCondition = {
  name: "noShepherdWork",
  unmet: "live shepherd work (agent start or recovery) holds it",
  holds: (mp) => sql`NOT ${liveWorkOn(machineOf(mp), SHEPHERD_PROCESSES)}`,
};

const NOT_INSTALLED: EligibilityCondition = {
  name: "notInstalled",
  unmet: "its OS installation is fulfilled: it runs its OS, not the agent",
  holds: (mp) => sql`NOT ${installationFulfilled(machineOf(mp))}`,
};

/** Not powered off by an operator: such a machine stays off, and no loop touches it until it is powered on. */
const NOT_HELD_OFF: EligibilityCondition = {
  name: "notHeldOff",
  unmet: "an operator powered it off through Drover: it stays off until an operator powers it on",
  holds: (mp) => sql`${mp}.provider_held_off_at IS NULL`,
};

function noBackoff(process: Process): EligibilityCondition {
  return {
    name: "noBackoff",
    unmet: `it is in backoff for ${process}`,
    holds: (mp) => sql`NOT ${activeBackoffOn(machineOf(mp), process)}`,
  };
}

/**
 * Agent start: the provider runs the machine and gave it an address (so the
 * agent can be reached), no agent started, no live shepherd work, no active
 * AgentStart backoff, no fulfilled installation.
 */
export const AGENT_START_CONDITIONS: readonly EligibilityCondition[] = [
  {
    name: "providerRunning",
    unmet: "the provider does not report it running with an address",
    holds: (mp) => sql`${mp}.provider_status = 'Running' AND ${mp}.provider_ip_address IS NOT NULL`,
  },
  {
    name: "noAgentStarted",
    unmet: "an agent was started on it already",
    holds: (mp) => sql`NOT EXISTS (SELECT 1 FROM machine_agent_started a WHERE a.machine_id = ${machineOf(mp)})`,
  },
  NO_SHEPHERD_WORK,
  noBackoff(Process.ShepherdAgentStart),
  NOT_INSTALLED,
  NOT_HELD_OFF,
];

/** The conjunction of `conditions` for `mp`. */
export function allOf(conditions: readonly EligibilityCondition[], mp: Sql): Sql {
  return join(conditions.map((c) => c.holds(mp)), " AND ");
}

/** Agent start's predicate for the `machine_provided` row aliased `mp`. */
export function agentStartEligible(mp: Sql): Sql {
  return allOf(AGENT_START_CONDITIONS, mp);
}

/** How long an agent may stay silent before the machine is recovered. */
export interface RecoveryTimeouts {
  /** After the agent was started, how long to wait for its first heartbeat. @default 1800 */
  startTimeoutSeconds?: number;
  /** After the last heartbeat, how long before the agent counts as gone. @default 600 */
  heartbeatTimeoutSeconds?: number;
}

export function resolveRecoveryTimeouts(t: RecoveryTimeouts): Required<RecoveryTimeouts> {
  return {
    startTimeoutSeconds: check.integer("startTimeoutSeconds", t.startTimeoutSeconds ?? 1800, {
      min: 1,
      max: 86400 * 30,
    }),
    heartbeatTimeoutSeconds: check.integer("heartbeatTimeoutSeconds", t.heartbeatTimeoutSeconds ?? 600, {
      min: 1,
      max: 86400 * 30,
    }),
  };
}

/**
 * Agent recovery: the agent was started, and it never heartbeated within
 * `startTimeoutSeconds`, or its last heartbeat is older than
 * `heartbeatTimeoutSeconds`; or the machine has a BMC and is powered off
 * though no operator held it off (powered off behind Drover's back: the
 * recoverer powers it on). And: the provider still has it (not Missing), no
 * live shepherd work, no active Recovery backoff, no fulfilled installation,
 * not held off.
 */
export function agentRecoveryConditions(timeouts: Required<RecoveryTimeouts>): EligibilityCondition[] {
  return [
    {
      name: "agentQuiet",
      unmet: `no agent was started, or its agent reported within ${timeouts.startTimeoutSeconds} s of its start ` +
        `and within the last ${timeouts.heartbeatTimeoutSeconds} s; and it is not powered off behind Drover's back`,
      holds: (mp) =>
        sql`(EXISTS (SELECT 1 FROM machine_agent_started a
          LEFT JOIN machine_agent_heartbeat h ON h.machine_id = a.machine_id
          WHERE a.machine_id = ${machineOf(mp)} AND (
            (h.machine_id IS NULL AND a.agent_started_at < now() - ${timeouts.startTimeoutSeconds}::int * interval '1 second')
            OR h.agent_heartbeat_at < now() - ${timeouts.heartbeatTimeoutSeconds}::int * interval '1 second'))
          OR (${mp}.provider_status = 'Stopped' AND ${mp}.provider_bmc IS NOT NULL))`,
    },
    {
      name: "present",
      unmet: "its provider no longer lists it (Missing): there is nothing to recover",
      holds: (mp) => sql`${mp}.provider_status IS DISTINCT FROM 'Missing'`,
    },
    NO_SHEPHERD_WORK,
    noBackoff(Process.ShepherdRecovery),
    NOT_INSTALLED,
    NOT_HELD_OFF,
  ];
}

/** Agent recovery's predicate for the `machine_provided` row aliased `mp`. */
export function agentRecoveryEligible(mp: Sql, timeouts: Required<RecoveryTimeouts>): Sql {
  return allOf(agentRecoveryConditions(timeouts), mp);
}

const MP = raw("mp");

/** Below every machine id: the start of a walk over the whole fleet. */
export const LOWEST_UUID = "00000000-0000-0000-0000-000000000000";

/**
 * Up to `limit` of `provider`'s machines that satisfy `eligible`, walked in
 * machine_id order from a random point and wrapping around.
 */
function candidates(
  name: string,
  eligible: Sql,
  { provider, limit, identity }: { provider: Provider; limit: number; identity: string },
): QuerySpec<MachineProvided[]> {
  // LIMIT is a literal (a validated integer), not a parameter: a generic plan
  // that does not know the limit is small may fetch a third of the fleet and
  // sort it instead of walking the index, and that plan is both slow and,
  // under SERIALIZABLE, a lock on every machine it read.
  const range = (bounds: Sql, n: number) =>
    sql`SELECT ${PROVIDED_COLUMNS} FROM machine_provided mp
        WHERE mp.provider = ${provider}::text AND ${bounds} AND ${eligible}
        ORDER BY mp.machine_id LIMIT ${raw(String(n))}`;
  return {
    name,
    kind: "candidates",
    build: () => {
      const start = crypto.randomUUID();
      return sql`SELECT * FROM ((${range(sql`mp.machine_id >= ${start}::uuid`, limit)})
        UNION ALL (${range(sql`mp.machine_id < ${start}::uuid`, limit)})) c
        LIMIT ${raw(String(limit))}`;
    },
    map: (rows) => rows.map(toMachineProvided),
    firstEligible: (from, before) =>
      range(
        before === undefined
          ? sql`mp.machine_id >= ${from}`
          : sql`mp.machine_id >= ${from} AND mp.machine_id < ${before}`,
        1,
      ),
    excludesLiveWorkOf: SHEPHERD_PROCESSES,
    identity: `${name}|${provider}|${identity}`,
  };
}

/** Validated `{ provider, limit }`. */
function providerAndLimit(params: { provider: Provider; limit: number }) {
  const p = check.options("params", params);
  return {
    provider: check.provider("provider", p.provider),
    limit: check.integer("limit", p.limit, { min: 1, max: 1000 }),
  };
}

// Built once: the predicate has no parameters.
const AGENT_START_ELIGIBLE = agentStartEligible(MP);

/** Machines that need the agent started for the first time. Return it unawaited from `retrieve` to claim in one statement. */
export function getMachinesForAgentStart(params: { provider: Provider; limit: number }): QuerySpec<MachineProvided[]> {
  const { provider, limit } = providerAndLimit(params);
  return candidates("getMachinesForAgentStart", AGENT_START_ELIGIBLE, { provider, limit, identity: "" });
}

/** Machines whose agent never reported or went quiet. Return it unawaited from `retrieve` to claim in one statement. */
export function getMachineForAgentRecovery(
  params: { provider: Provider; limit: number } & RecoveryTimeouts,
): QuerySpec<MachineProvided[]> {
  const { provider, limit } = providerAndLimit(params);
  const timeouts = resolveRecoveryTimeouts(params);
  return candidates("getMachineForAgentRecovery", agentRecoveryEligible(MP, timeouts), {
    provider,
    limit,
    identity: `${timeouts.startTimeoutSeconds}|${timeouts.heartbeatTimeoutSeconds}`,
  });
}

/**
 * One page of a provider's machines in machine_id order: pass the last
 * `machineId` of a page as `after` to get the next.
 */
export function getProvidedMachines(params: {
  provider: Provider;
  after?: string;
  limit?: number;
}): QuerySpec<MachineProvided[]> {
  const p = check.options("params", params);
  const provider = check.provider("provider", p.provider);
  const after = p.after === undefined ? undefined : check.uuid("after", p.after);
  const limit = check.integer("limit", p.limit ?? 1000, { min: 1, max: 10000 });
  return {
    name: "getProvidedMachines",
    kind: "read",
    build: () =>
      sql`SELECT ${PROVIDED_COLUMNS} FROM machine_provided mp
          WHERE mp.provider = ${provider}::text AND mp.machine_id > ${after ?? LOWEST_UUID}::uuid
          ORDER BY mp.machine_id LIMIT ${raw(String(limit))}`,
    map: (rows) => rows.map(toMachineProvided),
  };
}
