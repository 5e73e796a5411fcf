/**
 * What the agent API needs: the key an agent was started with, and the
 * statement that records agents' signed requests (heartbeats and hardware
 * reports), many per round trip.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import type { QuerySpec } from "./query.ts";
import { type Sql, sql } from "./sql.ts";
import * as check from "./validate.ts";

/** A machine's agent as the initializer recorded it. */
export interface AgentStarted {
  machineId: string;
  agentStartedAt: Date;
  /** The raw ed25519 public key from the agent's takeover reply. */
  agentPublicKey: Uint8Array;
}

/** postgres.js reads bytea as a Buffer, PGlite as a Uint8Array: one type above the drivers. */
export function toBytes(value: unknown): Uint8Array {
  const bytes = value as Uint8Array;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength).slice();
}

/**
 * The machine's started agent: `machineFound` false for an unknown machine,
 * `agent` null when no agent is recorded for it.
 */
export function getAgentStarted(
  params: { machineId: string },
): QuerySpec<{ machineFound: boolean; agent: AgentStarted | null }> {
  const machineId = check.uuid("machineId", check.options("params", params).machineId);
  return {
    name: "getAgentStarted",
    kind: "read",
    build: () =>
      sql`SELECT m.machine_id, a.agent_started_at, a.agent_public_key FROM machines m
          LEFT JOIN machine_agent_started a ON a.machine_id = m.machine_id
          WHERE m.machine_id = ${machineId}::uuid`,
    map: (rows: Row[]) => {
      const r = rows[0];
      if (r === undefined) return { machineFound: false, agent: null };
      if (r.agent_public_key == null) return { machineFound: true, agent: null };
      return {
        machineFound: true,
        agent: {
          machineId,
          agentStartedAt: r.agent_started_at as Date,
          agentPublicKey: toBytes(r.agent_public_key),
        },
      };
    },
  };
}

/** One signed agent request, already verified against `agentPublicKey`. */
export interface AgentReport {
  machineId: string;
  /** The key the request was verified with: recorded only while it is still the machine's key. */
  agentPublicKey: Uint8Array;
  /** The agent's time of sending: it must be later than the machine's last accepted request. */
  sentAt: Date;
  /** A hardware report to store with it, if any. */
  hardwareReportRaw?: Uint8Array;
}

/**
 * What became of a report:
 * - `accepted`: recorded (the heartbeat time moved to `sentAt`);
 * - `noMachine`: no such machine; `noAgent`: no agent recorded for it;
 * - `keyMismatch`: the machine's agent has another key now (it was recovered);
 * - `notNewer`: `sentAt` is not later than the last accepted request (a replay).
 */
export type AgentReportOutcome = "accepted" | "noMachine" | "noAgent" | "keyMismatch" | "notNewer";

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/**
 * Records `reports` (distinct machines) in one statement: per report, the
 * heartbeat moves to `sentAt` only if the machine's agent still has the
 * report's key and `sentAt` is later than the heartbeat recorded (so a
 * replayed request changes nothing, whichever replica it reaches), and the
 * hardware report is stored only with an accepted heartbeat. Returns one row
 * per report in order, with `outcome`.
 */
export function recordAgentReports(reports: readonly AgentReport[]): Sql {
  const ords = reports.map((_, i) => i + 1);
  return sql`WITH req AS (
      SELECT * FROM unnest(${ords}::int[], ${reports.map((r) => r.machineId)}::uuid[],
        ${reports.map((r) => base64(r.agentPublicKey))}::text[], ${reports.map((r) => r.sentAt.toISOString())}::text[],
        ${reports.map((r) => r.hardwareReportRaw === undefined ? null : base64(r.hardwareReportRaw))}::text[])
        AS r(ord, machine_id, public_key, sent_at, report)),
    checked AS (
      SELECT req.ord, req.machine_id, req.sent_at::timestamptz AS sent_at, req.report,
        m.machine_id IS NOT NULL AS machine_found, a.agent_public_key AS key,
        decode(req.public_key, 'base64') AS public_key
      FROM req LEFT JOIN machines m ON m.machine_id = req.machine_id
        LEFT JOIN machine_agent_started a ON a.machine_id = req.machine_id),
    heartbeat AS (
      INSERT INTO machine_agent_heartbeat AS h (machine_id, agent_heartbeat_at)
      SELECT machine_id, sent_at FROM checked WHERE key = public_key
      ON CONFLICT (machine_id) DO UPDATE SET agent_heartbeat_at = excluded.agent_heartbeat_at
        WHERE h.agent_heartbeat_at < excluded.agent_heartbeat_at
      RETURNING machine_id),
    hardware AS (
      INSERT INTO machine_hardware_report (machine_id, hardware_report_raw)
      SELECT c.machine_id, decode(c.report, 'base64') FROM checked c JOIN heartbeat USING (machine_id)
      WHERE c.report IS NOT NULL
      ON CONFLICT (machine_id) DO UPDATE SET hardware_report_raw = excluded.hardware_report_raw
      RETURNING machine_id)
    SELECT c.ord, CASE
        WHEN NOT c.machine_found THEN 'noMachine'
        WHEN c.key IS NULL THEN 'noAgent'
        WHEN c.key <> c.public_key THEN 'keyMismatch'
        WHEN EXISTS (SELECT 1 FROM heartbeat hb WHERE hb.machine_id = c.machine_id) THEN 'accepted'
        ELSE 'notNewer' END AS outcome,
      (SELECT count(*) FROM hardware)::int AS hardware_reports
    FROM checked c ORDER BY c.ord`;
}
