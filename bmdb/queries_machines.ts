/**
 * The fleet as the dashboard pages through it: machines in `machine_id`
 * order (keyset paging: pass the last id of a page as `after`), searched and
 * filtered, each with its tags, live work and active backoffs; and one
 * machine in full.
 *
 * Search (`q`) finds, by index: a machine id (or a prefix of one), a
 * provider id or IP address prefix, a metro, a reservation id. `q` may hold
 * letters, digits and `.:_-` only, so it is inlined into the statement as a
 * literal (a `LIKE` pattern given as a parameter would keep a generic plan
 * from using the prefix indexes of migration 0004).
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { type Process, PROCESSES, type Provider, PROVIDER_STATUSES, type ProviderStatus } from "./model.ts";
import type { QuerySpec } from "./query.ts";
import { empty, join, raw, type Sql, sql } from "./sql.ts";
import { toBytes } from "./queries_agent.ts";
import * as check from "./validate.ts";

/** Tags a machine can be filtered by. */
export const MACHINE_TAGS = [
  "provided",
  "agentStarted",
  "agentHeartbeat",
  "hardwareReport",
  "osInstallationRequest",
  "osInstallationReport",
] as const;
export type MachineTag = typeof MACHINE_TAGS[number];

const TAG_TABLE: Record<MachineTag, string> = {
  provided: "machine_provided",
  agentStarted: "machine_agent_started",
  agentHeartbeat: "machine_agent_heartbeat",
  hardwareReport: "machine_hardware_report",
  osInstallationRequest: "machine_os_installation_request",
  osInstallationReport: "machine_os_installation_report",
};

/** Which machines to list. Every field narrows the list; all are optional. */
export interface MachineFilter {
  /** Search: machine id (or prefix), provider id or IP prefix, metro, reservation id. */
  q?: string;
  /** Has this tag. */
  tag?: MachineTag;
  /** With `hasWork`/`inBackoff`: of this process; alone: has work or a backoff of it. */
  process?: Process;
  providerStatus?: ProviderStatus;
  /** Has an active backoff (of `process`, if given). */
  inBackoff?: boolean;
  /** Has work held by a live session (of `process`, if given). */
  hasWork?: boolean;
}

/** One machine of a listing. */
export interface MachineSummary {
  machineId: string;
  createdAt: Date;
  provider: Provider | null;
  providerId: string | null;
  providerReservationId: string | null;
  providerIpAddress: string | null;
  providerLocation: string | null;
  providerStatus: ProviderStatus | null;
  agentStartedAt: Date | null;
  agentHeartbeatAt: Date | null;
  /** Work held by live sessions. */
  work: {
    process: Process;
    sessionId: string;
    component: string;
    startedAt: string;
    cancelRequestedAt: string | null;
    cancelRequestedBy: string | null;
  }[];
  /** Backoffs that have not run out. */
  backoffs: { process: Process; until: string; cause: string; lastIntervalSeconds: number }[];
}

/** One machine in full: its summary, every tag and the hardware report decoded. */
export interface MachineDetail extends MachineSummary {
  agentPublicKey: string | null;
  /** The agent's report, decoded from JSON; null when there is none (or it is not JSON). */
  hardwareReport: unknown;
  osInstallationRequest: { generation: number } | null;
  osInstallationReport: { generation: number; result: string } | null;
}

const SEARCH = /^[A-Za-z0-9.:_-]{1,128}$/;
const HEX_PREFIX = /^[0-9a-fA-F-]{1,36}$/;

function literal(text: string): Sql {
  // Safe: SEARCH admits no quote, backslash or LIKE wildcard.
  return raw(`'${text}'`);
}

/** The machine id range a hex prefix covers (hyphens ignored), or undefined. */
function idRange(q: string): [string, string] | undefined {
  if (!HEX_PREFIX.test(q)) return undefined;
  const hex = q.replaceAll("-", "").toLowerCase();
  if (hex.length === 0 || hex.length > 32) return undefined;
  const uuid = (h: string) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return [uuid(hex.padEnd(32, "0")), uuid(hex.padEnd(32, "f"))];
}

/** Machine ids `q` finds, as a subquery. */
function searchHits(q: string): Sql {
  const hits: Sql[] = [
    sql`SELECT machine_id FROM machine_provided WHERE provider_ip_address LIKE ${literal(`${q}%`)}`,
    sql`SELECT machine_id FROM machine_provided WHERE provider_id LIKE ${literal(`${q}%`)}`,
    sql`SELECT machine_id FROM machine_provided WHERE provider_location = ${literal(q.toLowerCase())}`,
    sql`SELECT machine_id FROM machine_provided WHERE provider_reservation_id = ${literal(q)}`,
  ];
  const range = idRange(q);
  if (range) {
    hits.push(sql`SELECT machine_id FROM machines WHERE machine_id BETWEEN ${literal(range[0])}::uuid
      AND ${literal(range[1])}::uuid`);
  }
  return join(hits, " UNION ");
}

function liveWorkExists(process: Process | undefined): Sql {
  return sql`EXISTS (SELECT 1 FROM work_slot w JOIN sessions s ON s.session_id = w.session_id
    WHERE w.machine_id = m.machine_id AND s.session_deadline > now()
    ${process ? sql`AND w.process = ${literal(process)}` : empty})`;
}

function backoffExists(process: Process | undefined): Sql {
  return sql`EXISTS (SELECT 1 FROM work_backoff b WHERE b.machine_id = m.machine_id AND b.until > now()
    ${process ? sql`AND b.process = ${literal(process)}` : empty})`;
}

/** Validates a filter; throws InvalidArgumentError naming the field. */
export function checkFilter(filter: MachineFilter): MachineFilter {
  const f = check.options("filter", filter);
  const out: MachineFilter = {};
  if (f.q !== undefined && f.q !== "") {
    out.q = check.matching("q", f.q, SEARCH, "1..128 letters, digits or . : _ -");
  }
  if (f.tag !== undefined) out.tag = check.oneOf("tag", f.tag, MACHINE_TAGS);
  if (f.process !== undefined) out.process = check.oneOf("process", f.process, PROCESSES);
  if (f.providerStatus !== undefined) {
    out.providerStatus = check.oneOf("providerStatus", f.providerStatus, PROVIDER_STATUSES);
  }
  for (const name of ["inBackoff", "hasWork"] as const) {
    if (f[name] === undefined) continue;
    out[name] = check.boolean(name, f[name]);
  }
  return out;
}

/** The WHERE conditions of `filter` over `machines m` joined with `machine_provided mp`. */
export function filterConditions(filter: MachineFilter): Sql[] {
  const where: Sql[] = [];
  if (filter.q) where.push(sql`m.machine_id IN (${searchHits(filter.q)})`);
  if (filter.tag) {
    where.push(sql`EXISTS (SELECT 1 FROM ${raw(TAG_TABLE[filter.tag])} t WHERE t.machine_id = m.machine_id)`);
  }
  if (filter.providerStatus) where.push(sql`mp.provider_status = ${literal(filter.providerStatus)}`);
  if (filter.hasWork !== undefined) {
    where.push(filter.hasWork ? liveWorkExists(filter.process) : sql`NOT ${liveWorkExists(filter.process)}`);
  }
  if (filter.inBackoff !== undefined) {
    where.push(filter.inBackoff ? backoffExists(filter.process) : sql`NOT ${backoffExists(filter.process)}`);
  }
  if (filter.process && filter.hasWork === undefined && filter.inBackoff === undefined) {
    where.push(sql`(${liveWorkExists(filter.process)} OR ${backoffExists(filter.process)})`);
  }
  return where;
}

const SUMMARY_COLUMNS = sql`m.machine_id, m.machine_created_at, mp.provider, mp.provider_id, mp.provider_reservation_id,
  mp.provider_ip_address, mp.provider_location, mp.provider_status, a.agent_started_at, h.agent_heartbeat_at,
  (SELECT json_agg(json_build_object('process', w.process, 'sessionId', w.session_id,
      'component', s.session_component_name, 'startedAt', w.started_at,
      'cancelRequestedAt', w.cancel_requested_at, 'cancelRequestedBy', w.cancel_requested_by) ORDER BY w.process)
    FROM work_slot w JOIN sessions s ON s.session_id = w.session_id AND s.session_deadline > now()
    WHERE w.machine_id = m.machine_id) AS work,
  (SELECT json_agg(json_build_object('process', b.process, 'until', b.until, 'cause', b.cause,
      'lastIntervalSeconds', b.last_interval_seconds) ORDER BY b.process)
    FROM work_backoff b WHERE b.machine_id = m.machine_id AND b.until > now()) AS backoffs`;

const SUMMARY_JOINS = sql`LEFT JOIN machine_provided mp ON mp.machine_id = m.machine_id
  LEFT JOIN machine_agent_started a ON a.machine_id = m.machine_id
  LEFT JOIN machine_agent_heartbeat h ON h.machine_id = m.machine_id`;

function parseJson<T>(value: unknown): T | null {
  if (value == null) return null;
  return (typeof value === "string" ? JSON.parse(value) : value) as T;
}

function toSummary(r: Row): MachineSummary {
  return {
    machineId: r.machine_id as string,
    createdAt: r.machine_created_at as Date,
    provider: r.provider as Provider | null,
    providerId: r.provider_id as string | null,
    providerReservationId: r.provider_reservation_id as string | null,
    providerIpAddress: r.provider_ip_address as string | null,
    providerLocation: r.provider_location as string | null,
    providerStatus: r.provider_status as ProviderStatus | null,
    agentStartedAt: r.agent_started_at as Date | null,
    agentHeartbeatAt: r.agent_heartbeat_at as Date | null,
    work: parseJson(r.work) ?? [],
    backoffs: (parseJson<MachineSummary["backoffs"]>(r.backoffs) ?? []).map((b) => ({
      ...b,
      lastIntervalSeconds: Number(b.lastIntervalSeconds),
    })),
  };
}

/**
 * A page of machines in `machine_id` order after `after`, filtered.
 * @throws {InvalidArgumentError} a bad `after`, `limit` (1..1000) or filter field.
 */
export function listMachines(
  params: { after?: string; limit?: number } & MachineFilter,
): QuerySpec<MachineSummary[]> {
  const p = check.options("params", params);
  const after = p.after === undefined ? undefined : check.uuid("after", p.after);
  const limit = check.integer("limit", p.limit ?? 50, { min: 1, max: 1000 });
  const { after: _a, limit: _l, ...rest } = p;
  const where = filterConditions(checkFilter(rest));
  if (after) where.unshift(sql`m.machine_id > ${after}::uuid`);
  return {
    name: "listMachines",
    kind: "read",
    build: () =>
      sql`SELECT ${SUMMARY_COLUMNS} FROM machines m ${SUMMARY_JOINS}
        ${where.length ? sql`WHERE ${join(where, " AND ")}` : empty}
        ORDER BY m.machine_id LIMIT ${raw(String(limit))}`,
    map: (rows) => rows.map(toSummary),
  };
}

/** How many machines `filter` selects (for bulk actions' dry runs). */
export function countMachinesMatching(filter: MachineFilter): QuerySpec<number> {
  const where = filterConditions(checkFilter(filter));
  return {
    name: "countMachinesMatching",
    kind: "read",
    build: () =>
      sql`SELECT count(*)::int AS n FROM machines m LEFT JOIN machine_provided mp ON mp.machine_id = m.machine_id
        ${where.length ? sql`WHERE ${join(where, " AND ")}` : empty}`,
    map: (rows) => Number(rows[0].n),
  };
}

/** One machine in full, or null when there is no such machine. */
export function getMachine(params: { machineId: string }): QuerySpec<MachineDetail | null> {
  const machineId = check.uuid("machineId", check.options("params", params).machineId);
  return {
    name: "getMachine",
    kind: "read",
    build: () =>
      sql`SELECT ${SUMMARY_COLUMNS}, encode(a.agent_public_key, 'base64') AS agent_public_key, hw.hardware_report_raw,
          ir.generation AS request_generation, ip.generation AS report_generation, ip.os_installation_result
        FROM machines m ${SUMMARY_JOINS}
        LEFT JOIN machine_hardware_report hw ON hw.machine_id = m.machine_id
        LEFT JOIN machine_os_installation_request ir ON ir.machine_id = m.machine_id
        LEFT JOIN machine_os_installation_report ip ON ip.machine_id = m.machine_id
        WHERE m.machine_id = ${machineId}::uuid`,
    map: (rows) => {
      const r = rows[0];
      if (r === undefined) return null;
      return {
        ...toSummary(r),
        agentPublicKey: r.agent_public_key as string | null,
        hardwareReport: decodeReport(r.hardware_report_raw),
        osInstallationRequest: r.request_generation == null ? null : { generation: Number(r.request_generation) },
        osInstallationReport: r.report_generation == null
          ? null
          : { generation: Number(r.report_generation), result: r.os_installation_result as string },
      };
    },
  };
}

function decodeReport(raw: unknown): unknown {
  if (raw == null) return null;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(toBytes(raw)));
  } catch {
    return null;
  }
}
