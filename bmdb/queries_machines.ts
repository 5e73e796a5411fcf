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
 * And the provider's side of many machines at once, one statement each: new
 * machines for created devices, the provider's view of a page of devices,
 * and machines whose device is gone (the provisioner and the updater).
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { type Process, PROCESSES, type Provider, PROVIDER_STATUSES, PROVIDERS, ProviderStatus } from "./model.ts";
import type { QuerySpec } from "./query.ts";
import { empty, join, raw, type Sql, sql } from "./sql.ts";
import { toBytes } from "./queries_agent.ts";
import { type MachineProvided, PROVIDED_COLUMNS, toMachineProvided } from "./queries_workflows.ts";
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
  /** Belongs to this provider. */
  provider?: Provider;
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
  /** The BMC's PowerState as last read (machines with a BMC). */
  providerPowerState: string | null;
  /** The BMC's Status.Health as last read. */
  providerHealth: string | null;
  /** Why the status is what it is when that needs saying (an unreachable BMC). */
  providerStatusCause: string | null;
  /** The machine's BMC (origin and system path); null: none, so no power control. */
  providerBmc: string | null;
  /** When and by whom it was powered off through Drover (it stays off); null when not. */
  providerHeldOffAt: Date | null;
  providerHeldOffBy: string | null;
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
  /** The SSH host key recorded on first use ("type base64"), and when; null when none is recorded. */
  sshHostKey: { key: string; recordedAt: Date } | null;
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
    // Metros are lower case; an inventory's locations are as the operator wrote them.
    sql`SELECT machine_id FROM machine_provided WHERE provider_location IN (${literal(q)}, ${
      literal(q.toLowerCase())
    })`,
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
  if (f.provider !== undefined) out.provider = check.oneOf("provider", f.provider, PROVIDERS);
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
  if (filter.provider) where.push(sql`mp.provider = ${literal(filter.provider)}`);
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
  mp.provider_ip_address, mp.provider_location, mp.provider_status, mp.provider_power_state, mp.provider_health,
  mp.provider_status_cause, mp.provider_bmc, mp.provider_held_off_at, mp.provider_held_off_by,
  a.agent_started_at, h.agent_heartbeat_at,
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
    providerPowerState: (r.provider_power_state ?? null) as string | null,
    providerHealth: (r.provider_health ?? null) as string | null,
    providerStatusCause: (r.provider_status_cause ?? null) as string | null,
    providerBmc: (r.provider_bmc ?? null) as string | null,
    providerHeldOffAt: (r.provider_held_off_at ?? null) as Date | null,
    providerHeldOffBy: (r.provider_held_off_by ?? null) as string | null,
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
          hk.ssh_host_key, hk.ssh_host_key_recorded_at, ir.generation AS request_generation, ip.generation AS report_generation, ip.os_installation_result
        FROM machines m ${SUMMARY_JOINS}
        LEFT JOIN machine_hardware_report hw ON hw.machine_id = m.machine_id
        LEFT JOIN machine_ssh_host_key hk ON hk.machine_id = m.machine_id
        LEFT JOIN machine_os_installation_request ir ON ir.machine_id = m.machine_id
        LEFT JOIN machine_os_installation_report ip ON ip.machine_id = m.machine_id
        WHERE m.machine_id = ${machineId}::uuid`,
    map: (rows) => {
      const r = rows[0];
      if (r === undefined) return null;
      return {
        ...toSummary(r),
        agentPublicKey: r.agent_public_key as string | null,
        sshHostKey: r.ssh_host_key == null
          ? null
          : { key: r.ssh_host_key as string, recordedAt: r.ssh_host_key_recorded_at as Date },
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

// The provider's side of many machines per statement.

/** What a provider reports of one device, as `machine_provided` records it. */
export interface ProvidedDevice {
  providerId: string;
  providerReservationId?: string | null;
  providerIpAddress?: string | null;
  providerLocation?: string | null;
  providerStatus?: ProviderStatus | null;
  /** A BMC's PowerState as read. */
  providerPowerState?: string | null;
  /** A BMC's Status.Health as read. */
  providerHealth?: string | null;
  /** Why the status is what it is (an unreachable BMC). */
  providerStatusCause?: string | null;
  /** The BMC (origin and system path); null: none. */
  providerBmc?: string | null;
}

/** The fields of a {@linkcode ProvidedDevice} a statement may write. */
export type ProvidedField = Exclude<keyof ProvidedDevice, "providerId">;

/** Each field and its column. */
const PROVIDED_FIELD_COLUMNS: Readonly<Record<ProvidedField, { column: string; maxLength: number }>> = {
  providerReservationId: { column: "provider_reservation_id", maxLength: 128 },
  providerIpAddress: { column: "provider_ip_address", maxLength: 128 },
  providerLocation: { column: "provider_location", maxLength: 128 },
  providerStatus: { column: "provider_status", maxLength: 64 },
  providerPowerState: { column: "provider_power_state", maxLength: 32 },
  providerHealth: { column: "provider_health", maxLength: 32 },
  providerStatusCause: { column: "provider_status_cause", maxLength: 2000 },
  providerBmc: { column: "provider_bmc", maxLength: 600 },
};
const PROVIDED_FIELDS = Object.keys(PROVIDED_FIELD_COLUMNS) as ProvidedField[];

/** A new machine recorded for a device. */
export interface ProvidedMachine {
  machineId: string;
  providerId: string;
}

function toProvidedMachine(r: Row): ProvidedMachine {
  return { machineId: r.machine_id as string, providerId: r.provider_id as string };
}

/** Devices (or provider ids) one statement takes at most: a provider page is at most 1,000. */
const MAX_PER_STATEMENT = 10_000;

/**
 * Validated devices, one per provider id (the last one given wins: a live
 * listing may show a device twice), with absent fields as null.
 */
function checkDevices(field: string, value: unknown): Required<ProvidedDevice>[] {
  const byId = new Map<string, Required<ProvidedDevice>>();
  check.array(field, value, { maxLength: MAX_PER_STATEMENT }).forEach((entry, i) => {
    const at = `${field}[${i}]`;
    const d = check.options(at, entry as ProvidedDevice);
    const providerId = check.text(`${at}.providerId`, d.providerId, { maxLength: 128 });
    const fields = Object.fromEntries(PROVIDED_FIELDS.map((f) => {
      if (f === "providerStatus") {
        return [f, d.providerStatus == null ? null : check.providerStatus(`${at}.providerStatus`, d.providerStatus)];
      }
      return [f, check.optionalText(`${at}.${f}`, d[f], { maxLength: PROVIDED_FIELD_COLUMNS[f].maxLength })];
    })) as Omit<Required<ProvidedDevice>, "providerId">;
    byId.set(providerId, { providerId, ...fields });
  });
  return [...byId.values()];
}

/**
 * The devices as a relation `d(provider_id, <each field's column>…, ord)`,
 * one array per column; `ord` numbers them from 1.
 */
function devicesRelation(devices: readonly Required<ProvidedDevice>[]): Sql {
  const arrays = [
    sql`${devices.map((d) => d.providerId)}::text[]`,
    ...PROVIDED_FIELDS.map((f) => sql`${devices.map((d) => d[f])}::text[]`),
  ];
  const columns = ["provider_id", ...PROVIDED_FIELDS.map((f) => PROVIDED_FIELD_COLUMNS[f].column), "ord"];
  return sql`unnest(${join(arrays, ", ")}) WITH ORDINALITY AS d(${raw(columns.join(", "))})`;
}

/** Every field's column, `<alias>.`-qualified when an alias is given. */
function fieldColumns(alias?: string): Sql {
  const prefix = alias ? `${alias}.` : "";
  return raw(PROVIDED_FIELDS.map((f) => `${prefix}${PROVIDED_FIELD_COLUMNS[f].column}`).join(", "));
}

/**
 * Records each device not recorded yet as a new machine with its
 * `machine_provided`, in one statement; a device `provider` already knows
 * (another replica recorded it) is skipped. Returns the machines made.
 * @throws {InvalidArgumentError} a bad provider or device field (named, e.g. `devices[2].providerId`).
 */
export function newProvidedMachines(params: {
  provider: Provider;
  devices: readonly ProvidedDevice[];
}): QuerySpec<ProvidedMachine[]> {
  const p = check.options("params", params);
  const provider = check.provider("provider", p.provider);
  const devices = checkDevices("devices", p.devices);
  // Ids made here rather than by gen_random_uuid() in the CTE: both inserts
  // must see one id per device, however the engine evaluates the CTE.
  const machineIds = devices.map(() => crypto.randomUUID());
  return {
    name: "newProvidedMachines",
    kind: "write",
    build: () =>
      sql`WITH fresh AS (
          SELECT (${machineIds}::uuid[])[d.ord] AS machine_id, d.* FROM ${devicesRelation(devices)}
          WHERE NOT EXISTS (SELECT 1 FROM machine_provided mp
            WHERE mp.provider = ${provider}::text AND mp.provider_id = d.provider_id)),
        made AS (INSERT INTO machines (machine_id) SELECT machine_id FROM fresh)
        -- From fresh, not joined with made: a data-modifying CTE runs whether it is read or not, and the
        -- foreign key is checked at the statement's end. (Joined, the work pool's planner settings made it a
        -- nested loop: 10,000 devices took 4 s on PostgreSQL and 12 s on PGlite instead of a fraction of one.)
        INSERT INTO machine_provided (machine_id, provider, provider_id, ${fieldColumns()})
        SELECT f.machine_id, ${provider}::text, f.provider_id, ${fieldColumns("f")}
        FROM fresh f
        RETURNING machine_id, provider_id`,
    map: (rows) => rows.map(toProvidedMachine),
  };
}

/**
 * Copies what the provider reports of a page of devices into
 * `machine_provided` (found by provider and provider id), in one statement,
 * with the semantics of `machineUpdateProviderStatus`: a field left out (or
 * null) keeps its value, except the fields named in `exact`, which are
 * written as given (null clears them: an inventory entry that lost its
 * location, a BMC that answers again and has no cause to show). Only rows
 * with a field that changes are written, so a page where nothing changed
 * writes (and locks) nothing. Devices the BMDB does not know are ignored.
 * Returns the rows written, as they are now.
 * @throws {InvalidArgumentError} a bad provider or device field (named, e.g. `devices[2].providerStatus`).
 */
export function machinesUpdateProviderStatus(params: {
  provider: Provider;
  devices: readonly ProvidedDevice[];
  exact?: readonly ProvidedField[];
}): QuerySpec<MachineProvided[]> {
  const p = check.options("params", params);
  const provider = check.provider("provider", p.provider);
  const devices = checkDevices("devices", p.devices);
  const exact = new Set(
    check.array("exact", p.exact ?? [], { maxLength: PROVIDED_FIELDS.length })
      .map((f, i) => check.oneOf(`exact[${i}]`, f, PROVIDED_FIELDS)),
  );
  const value = (f: ProvidedField) => {
    const column = PROVIDED_FIELD_COLUMNS[f].column;
    return raw(exact.has(f) ? `d.${column}` : `COALESCE(d.${column}, mp.${column})`);
  };
  const sets = PROVIDED_FIELDS.map((f) => sql`${raw(PROVIDED_FIELD_COLUMNS[f].column)} = ${value(f)}`);
  const changes = PROVIDED_FIELDS.map((f) =>
    sql`${value(f)} IS DISTINCT FROM ${raw(`mp.${PROVIDED_FIELD_COLUMNS[f].column}`)}`
  );
  return {
    name: "machinesUpdateProviderStatus",
    kind: "write",
    build: () =>
      sql`UPDATE machine_provided mp SET ${join(sets, ", ")}
        FROM ${devicesRelation(devices)}
        WHERE mp.provider = ${provider}::text AND mp.provider_id = d.provider_id
          AND (${join(changes, " OR ")})
        RETURNING ${PROVIDED_COLUMNS}`,
    map: (rows) => rows.map(toMachineProvided),
  };
}

/**
 * Marks Missing, in one statement, the machines of `providerIds` that were
 * recorded before `recordedBefore` (read from the database's clock when a
 * sweep began: a machine recorded later may have a device the sweep's
 * listing had already passed) and are neither Missing already nor
 * ProvisioningFailedPermanent. Returns the machines marked.
 * @throws {InvalidArgumentError} a bad provider, provider id (named, e.g. `providerIds[3]`) or date.
 */
export function machinesMarkMissing(params: {
  provider: Provider;
  providerIds: readonly string[];
  recordedBefore: Date;
}): QuerySpec<ProvidedMachine[]> {
  const p = check.options("params", params);
  const provider = check.provider("provider", p.provider);
  const providerIds = [
    ...new Set(
      check.array("providerIds", p.providerIds, { maxLength: MAX_PER_STATEMENT })
        .map((id, i) => check.text(`providerIds[${i}]`, id, { maxLength: 128 })),
    ),
  ];
  const recordedBefore = check.date("recordedBefore", p.recordedBefore);
  return {
    name: "machinesMarkMissing",
    kind: "write",
    build: () =>
      sql`UPDATE machine_provided mp SET provider_status = ${ProviderStatus.Missing}::text
        FROM machines m
        WHERE mp.provider = ${provider}::text AND mp.provider_id = ANY(${providerIds}::text[])
          AND m.machine_id = mp.machine_id AND m.machine_created_at < ${recordedBefore}::timestamptz
          AND mp.provider_status IS DISTINCT FROM ${ProviderStatus.Missing}::text
          AND mp.provider_status IS DISTINCT FROM ${ProviderStatus.ProvisioningFailedPermanent}::text
        RETURNING mp.machine_id, mp.provider_id`,
    map: (rows) => rows.map(toProvidedMachine),
  };
}

/** The database's clock (`now()`): to compare with times the database recorded, whatever this host's clock says. */
export function getDatabaseTime(): QuerySpec<Date> {
  return {
    name: "getDatabaseTime",
    kind: "read",
    build: () => sql`SELECT now() AS now`,
    map: (rows) => rows[0].now as Date,
  };
}
