/**
 * Tag writes on `q`: facts about a machine, one table per tag.
 *
 * Each is a `tag` query: run on its own when awaited, or returned unawaited
 * from a `work.finish()` function, where it is embedded into the commit
 * statement and applied only if the work was not canceled (`guard`).
 *
 * @module
 */
import { InstallationResult, type Provider, type ProviderStatus } from "./model.ts";
import type { Guard, QuerySpec } from "./query.ts";
import { type Sql, sql } from "./sql.ts";
import * as check from "./validate.ts";

function tag(name: string, build: (guard: Guard) => Sql): QuerySpec<void> {
  return { name, kind: "tag", build, map: () => undefined };
}

/** Marks a machine as provided by `provider` under `providerId` (unique per provider). */
export function machineAddProvided(params: {
  machineId: string;
  provider: Provider;
  providerId: string;
  providerReservationId?: string | null;
  providerIpAddress?: string | null;
  providerLocation?: string | null;
  providerStatus?: ProviderStatus | null;
}): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const provider = check.provider("provider", p.provider);
  const providerId = check.text("providerId", p.providerId, { maxLength: 128 });
  const reservation = check.optionalText("providerReservationId", p.providerReservationId, { maxLength: 128 });
  const ip = check.optionalText("providerIpAddress", p.providerIpAddress, { maxLength: 128 });
  const location = check.optionalText("providerLocation", p.providerLocation, { maxLength: 128 });
  const status = p.providerStatus == null ? null : check.providerStatus("providerStatus", p.providerStatus);
  return tag(
    "machineAddProvided",
    (g) =>
      sql`INSERT INTO machine_provided (machine_id, provider, provider_id, provider_reservation_id,
          provider_ip_address, provider_location, provider_status)
        SELECT ${machineId}::uuid, ${provider}::text, ${providerId}::text, ${reservation}::text,
          ${ip}::text, ${location}::text, ${status}::text ${g.where}`,
  );
}

/**
 * Records that the agent was started and answered with `agentPublicKey`.
 * ONCHANGE(migrations/0007_agent_started_hash_probes.up.sql): the conflict
 * clause names the partial unique index that replaced the primary key.
 */
export function machineSetAgentStarted(params: {
  machineId: string;
  agentStartedAt: Date;
  agentPublicKey: Uint8Array;
}): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const at = check.date("agentStartedAt", p.agentStartedAt);
  const key = check.bytes("agentPublicKey", p.agentPublicKey, { maxBytes: 4096 });
  return tag(
    "machineSetAgentStarted",
    (g) =>
      sql`INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
        SELECT ${machineId}::uuid, ${at}::timestamptz, ${key}::bytea ${g.where}
        ON CONFLICT (machine_id) WHERE agent_started_at IS NOT NULL DO UPDATE
          SET agent_started_at = excluded.agent_started_at, agent_public_key = excluded.agent_public_key`,
  );
}

/** Records an agent heartbeat. */
export function machineSetAgentHeartbeat(params: { machineId: string; agentHeartbeatAt: Date }): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const at = check.date("agentHeartbeatAt", p.agentHeartbeatAt);
  return tag("machineSetAgentHeartbeat", (g) =>
    sql`INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at)
        SELECT ${machineId}::uuid, ${at}::timestamptz ${g.where}
        ON CONFLICT (machine_id) DO UPDATE SET agent_heartbeat_at = excluded.agent_heartbeat_at`);
}

/** Stores the agent's hardware report (opaque bytes, encoded by the agent). */
export function machineSetHardwareReport(
  params: { machineId: string; hardwareReportRaw: Uint8Array },
): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const raw = check.bytes("hardwareReportRaw", p.hardwareReportRaw);
  return tag(
    "machineSetHardwareReport",
    (g) =>
      sql`INSERT INTO machine_hardware_report (machine_id, hardware_report_raw)
        SELECT ${machineId}::uuid, ${raw}::bytea ${g.where}
        ON CONFLICT (machine_id) DO UPDATE SET hardware_report_raw = excluded.hardware_report_raw`,
  );
}

/** Requests an OS installation; `generation` matches it to its report. */
export function machineSetOSInstallationRequest(params: {
  machineId: string;
  generation: number;
  osInstallationRequestRaw: Uint8Array;
}): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const generation = check.integer("generation", p.generation, { min: 0, max: 2 ** 31 - 1 });
  const raw = check.bytes("osInstallationRequestRaw", p.osInstallationRequestRaw);
  return tag(
    "machineSetOSInstallationRequest",
    (g) =>
      sql`INSERT INTO machine_os_installation_request (machine_id, generation, os_installation_request_raw)
        SELECT ${machineId}::uuid, ${generation}::int, ${raw}::bytea ${g.where}
        ON CONFLICT (machine_id) DO UPDATE
          SET generation = excluded.generation, os_installation_request_raw = excluded.os_installation_request_raw`,
  );
}

/** Stores the agent's report of an OS installation. */
export function machineSetOSInstallationReport(params: {
  machineId: string;
  generation: number;
  osInstallationResult: InstallationResult;
  osInstallationReportRaw: Uint8Array;
}): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const generation = check.integer("generation", p.generation, { min: 0, max: 2 ** 31 - 1 });
  const result = check.oneOf("osInstallationResult", p.osInstallationResult, Object.values(InstallationResult));
  const raw = check.bytes("osInstallationReportRaw", p.osInstallationReportRaw);
  return tag("machineSetOSInstallationReport", (g) =>
    sql`INSERT INTO machine_os_installation_report
          (machine_id, generation, os_installation_result, os_installation_report_raw)
        SELECT ${machineId}::uuid, ${generation}::int, ${result}::text, ${raw}::bytea ${g.where}
        ON CONFLICT (machine_id) DO UPDATE SET generation = excluded.generation,
          os_installation_result = excluded.os_installation_result,
          os_installation_report_raw = excluded.os_installation_report_raw`);
}

/** Forgets that the agent was started (the recoverer does this, so the agent is started again). */
export function machineDeleteAgentStarted(params: { machineId: string }): QuerySpec<void> {
  const machineId = check.uuid("machineId", check.options("params", params).machineId);
  return tag(
    "machineDeleteAgentStarted",
    (g) => sql`DELETE FROM machine_agent_started WHERE machine_id = ${machineId}::uuid ${g.and}`,
  );
}

/** Forgets the agent's last heartbeat. */
export function machineDeleteAgentHeartbeat(params: { machineId: string }): QuerySpec<void> {
  const machineId = check.uuid("machineId", check.options("params", params).machineId);
  return tag(
    "machineDeleteAgentHeartbeat",
    (g) => sql`DELETE FROM machine_agent_heartbeat WHERE machine_id = ${machineId}::uuid ${g.and}`,
  );
}

/**
 * Copies what the provider reports into `machine_provided`, found by
 * (provider, providerId). Fields left out (or null) keep their value.
 */
export function machineUpdateProviderStatus(params: {
  provider: Provider;
  providerId: string;
  providerReservationId?: string | null;
  providerIpAddress?: string | null;
  providerLocation?: string | null;
  providerStatus?: ProviderStatus | null;
}): QuerySpec<void> {
  const p = check.options("params", params);
  const provider = check.provider("provider", p.provider);
  const providerId = check.text("providerId", p.providerId, { maxLength: 128 });
  const reservation = check.optionalText("providerReservationId", p.providerReservationId, { maxLength: 128 });
  const ip = check.optionalText("providerIpAddress", p.providerIpAddress, { maxLength: 128 });
  const location = check.optionalText("providerLocation", p.providerLocation, { maxLength: 128 });
  const status = p.providerStatus == null ? null : check.providerStatus("providerStatus", p.providerStatus);
  return tag("machineUpdateProviderStatus", (g) =>
    sql`UPDATE machine_provided SET
          provider_reservation_id = COALESCE(${reservation}::text, provider_reservation_id),
          provider_ip_address = COALESCE(${ip}::text, provider_ip_address),
          provider_location = COALESCE(${location}::text, provider_location),
          provider_status = COALESCE(${status}::text, provider_status)
        WHERE provider = ${provider}::text AND provider_id = ${providerId}::text ${g.and}`);
}
