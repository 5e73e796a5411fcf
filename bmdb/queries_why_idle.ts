/**
 * Why is this machine idle: for one machine and each claiming loop, which of
 * the loop's eligibility conditions do not hold, with the facts behind them
 * (whose work, which backoff until when and why, when the agent started or
 * last reported). The conditions are the very ones the loops claim with
 * (`queries_workflows.ts`), evaluated one by one.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { Process, type ProviderStatus, SHEPHERD_PROCESSES } from "./model.ts";
import type { QuerySpec } from "./query.ts";
import { join, raw, type Sql, sql } from "./sql.ts";
import * as check from "./validate.ts";
import {
  AGENT_START_CONDITIONS,
  agentRecoveryConditions,
  type EligibilityCondition,
  type RecoveryTimeouts,
  resolveRecoveryTimeouts,
} from "./queries_workflows.ts";

/** A condition that keeps a loop off the machine. */
export interface UnmetCondition {
  /** The condition's name, e.g. "noBackoff". */
  condition: string;
  /** What it means, e.g. "it is in backoff for ShepherdAgentStart". */
  reason: string;
  /** The facts, e.g. "until 2026-11-23T18:00:00.000Z: initializer failed: ssh …". */
  detail: string | null;
}

/** One loop's view of the machine. */
export interface LoopEligibility {
  loop: "initializer" | "recoverer";
  process: Process;
  /** True when the loop could claim it now. */
  eligible: boolean;
  unmet: UnmetCondition[];
}

export interface WhyIdle {
  machineId: string;
  /** False when the machine has no provider record: no loop looks at it. */
  provided: boolean;
  loops: LoopEligibility[];
}

const MP = raw("mp");

function flags(prefix: string, conditions: readonly EligibilityCondition[]): Sql[] {
  return conditions.map((c, i) => sql`COALESCE((${c.holds(MP)}), false) AS ${raw(`${prefix}${i}`)}`);
}

/** The facts a condition's detail quotes. */
interface Facts {
  providerStatus: ProviderStatus | null;
  providerIpAddress: string | null;
  heldOffAt: Date | null;
  heldOffBy: string | null;
  agentStartedAt: Date | null;
  agentHeartbeatAt: Date | null;
  work: { process: Process; component: string; sessionId: string; startedAt: string }[];
  backoffs: { process: Process; until: string; cause: string }[];
  installedGeneration: number | null;
}

function detailOf(condition: string, process: Process, f: Facts): string | null {
  switch (condition) {
    case "providerRunning":
      return `provider status ${f.providerStatus ?? "unknown"}, address ${f.providerIpAddress ?? "none"}`;
    case "noAgentStarted":
      return f.agentStartedAt ? `agent started at ${f.agentStartedAt.toISOString()}` : null;
    case "agentQuiet":
      if (!f.agentStartedAt) return "no agent started";
      return `agent started at ${f.agentStartedAt.toISOString()}, last heartbeat ${
        f.agentHeartbeatAt?.toISOString() ?? "never"
      }`;
    case "noShepherdWork":
      return f.work.filter((w) => SHEPHERD_PROCESSES.includes(w.process))
        .map((w) => `${w.process} by ${w.component} (session ${w.sessionId}) since ${w.startedAt}`).join("; ") || null;
    case "noBackoff": {
      const b = f.backoffs.find((b) => b.process === process);
      return b ? `until ${b.until}: ${b.cause}` : null;
    }
    case "present":
      return `provider status ${f.providerStatus}`;
    case "notHeldOff":
      return f.heldOffAt ? `powered off by ${f.heldOffBy ?? "an operator"} at ${f.heldOffAt.toISOString()}` : null;
    case "notInstalled":
      return f.installedGeneration === null ? null : `installation generation ${f.installedGeneration} succeeded`;
    default:
      return null;
  }
}

/**
 * For `machineId`: per claiming loop, whether it could claim the machine now,
 * and the conditions that keep it off. Null for an unknown machine.
 */
export function whyIdle(params: { machineId: string } & RecoveryTimeouts): QuerySpec<WhyIdle | null> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const recovery = agentRecoveryConditions(resolveRecoveryTimeouts(p));
  const loops = [
    {
      loop: "initializer" as const,
      process: Process.ShepherdAgentStart,
      conditions: AGENT_START_CONDITIONS,
      prefix: "s",
    },
    { loop: "recoverer" as const, process: Process.ShepherdRecovery, conditions: recovery, prefix: "r" },
  ];
  return {
    name: "whyIdle",
    kind: "read",
    build: () =>
      sql`SELECT m.machine_id, mp.machine_id IS NOT NULL AS provided, mp.provider_status, mp.provider_ip_address,
          mp.provider_held_off_at, mp.provider_held_off_by, a.agent_started_at, h.agent_heartbeat_at,
          (SELECT json_agg(json_build_object('process', w.process, 'component', s.session_component_name,
              'sessionId', w.session_id, 'startedAt', w.started_at) ORDER BY w.process)
            FROM work_slot w JOIN sessions s ON s.session_id = w.session_id AND s.session_deadline > now()
            WHERE w.machine_id = m.machine_id) AS work,
          (SELECT json_agg(json_build_object('process', b.process, 'until', b.until, 'cause', b.cause)
              ORDER BY b.process)
            FROM work_backoff b WHERE b.machine_id = m.machine_id AND b.until > now()) AS backoffs,
          (SELECT max(r.generation) FROM machine_os_installation_request r
            JOIN machine_os_installation_report o ON o.machine_id = r.machine_id AND o.generation = r.generation
            WHERE r.machine_id = m.machine_id AND o.os_installation_result = 'Success') AS installed_generation,
          ${join(loops.flatMap((l) => flags(l.prefix, l.conditions)), ", ")}
        FROM machines m
        LEFT JOIN machine_provided mp ON mp.machine_id = m.machine_id
        LEFT JOIN machine_agent_started a ON a.machine_id = m.machine_id
        LEFT JOIN machine_agent_heartbeat h ON h.machine_id = m.machine_id
        WHERE m.machine_id = ${machineId}::uuid`,
    map: (rows: Row[]) => {
      const r = rows[0];
      if (r === undefined) return null;
      const facts: Facts = {
        providerStatus: r.provider_status as ProviderStatus | null,
        providerIpAddress: r.provider_ip_address as string | null,
        heldOffAt: (r.provider_held_off_at ?? null) as Date | null,
        heldOffBy: (r.provider_held_off_by ?? null) as string | null,
        agentStartedAt: r.agent_started_at as Date | null,
        agentHeartbeatAt: r.agent_heartbeat_at as Date | null,
        work: parseJson(r.work) ?? [],
        backoffs: parseJson(r.backoffs) ?? [],
        installedGeneration: r.installed_generation == null ? null : Number(r.installed_generation),
      };
      const provided = r.provided === true;
      return {
        machineId,
        provided,
        loops: loops.map(({ loop, process, conditions, prefix }) => {
          const unmet = provided
            ? conditions.filter((_, i) => r[`${prefix}${i}`] !== true).map((c) => ({
              condition: c.name,
              reason: c.unmet,
              detail: detailOf(c.name, process, facts),
            }))
            : [{ condition: "provided", reason: "it has no provider record: no loop looks at it", detail: null }];
          return { loop, process, eligible: unmet.length === 0, unmet };
        }),
      };
    },
  };
}

/** PGlite returns json columns parsed, postgres.js too; a string (some drivers) is parsed here. */
function parseJson<T>(value: unknown): T | null {
  if (value == null) return null;
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}
