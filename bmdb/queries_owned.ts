/**
 * Queries for machines you own (the Inventory provider): the SSH host key
 * recorded on first use, the power state an operator holds a machine in, the
 * record of operator actions that are not work (power actions, clearing a
 * host key), and the inventory's counts per location.
 *
 * The tag writes here may be returned from a `work.finish()` function, like
 * those of `queries_tags.ts`, and then apply only if the work was not
 * canceled.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { HistoryEvent, type Process, PROCESSES, Provider, type ProviderStatus } from "./model.ts";
import type { Guard, QuerySpec } from "./query.ts";
import { type Sql, sql } from "./sql.ts";
import * as check from "./validate.ts";

function tag(name: string, build: (guard: Guard) => Sql): QuerySpec<void> {
  return { name, kind: "tag", build, map: () => undefined };
}

/** An OpenSSH public key without its comment: `<type> <base64 blob>`. */
const HOST_KEY = /^[a-z0-9@.-]{1,64} [A-Za-z0-9+/]+={0,3}$/;

function hostKey(field: string, value: unknown): string {
  return check.matching(field, value, HOST_KEY, "an OpenSSH public key without comment, <type> <base64 blob>", 16384);
}

/** The SSH host key recorded for the machine on first use, or null. */
export function getSshHostKey(params: { machineId: string }): QuerySpec<string | null> {
  const machineId = check.uuid("machineId", check.options("params", params).machineId);
  return {
    name: "getSshHostKey",
    kind: "read",
    build: () => sql`SELECT ssh_host_key FROM machine_ssh_host_key WHERE machine_id = ${machineId}::uuid`,
    map: (rows) => (rows[0]?.ssh_host_key ?? null) as string | null,
  };
}

/**
 * Records the host key a machine presented the first time Drover reached it.
 * A key recorded already stays (the first one wins: a second writer's key is
 * the same machine's, or is refused at its next connection).
 */
export function machineSetSshHostKey(params: { machineId: string; sshHostKey: string }): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const key = hostKey("sshHostKey", p.sshHostKey);
  return tag(
    "machineSetSshHostKey",
    (g) =>
      sql`INSERT INTO machine_ssh_host_key (machine_id, ssh_host_key)
        SELECT ${machineId}::uuid, ${key}::text ${g.where}
        ON CONFLICT (machine_id) DO NOTHING`,
  );
}

/** What clearing a host key found. */
export interface HostKeyCleared {
  machineFound: boolean;
  /** The key that was recorded, or null when none was. */
  cleared: string | null;
}

/**
 * An operator's clearing of the recorded host key (the machine was
 * reinstalled, say): the next connection records the key it then presents.
 * Written to history as HostKeyCleared with the actor, even when no key was
 * recorded (the operator's action is always on record).
 */
export function machineClearSshHostKey(params: { machineId: string; actor: string }): QuerySpec<HostKeyCleared> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const actor = check.text("actor", p.actor, { maxLength: 256 });
  return {
    name: "machineClearSshHostKey",
    kind: "write",
    build: () =>
      sql`WITH machine AS (SELECT machine_id FROM machines WHERE machine_id = ${machineId}::uuid),
        deleted AS (DELETE FROM machine_ssh_host_key WHERE machine_id = ${machineId}::uuid RETURNING ssh_host_key),
        history AS (
          INSERT INTO work_history (machine_id, process, event, actor, detail)
          SELECT machine_id, NULL, ${HistoryEvent.HostKeyCleared}::text, ${actor}::text,
            COALESCE('cleared ' || (SELECT ssh_host_key FROM deleted), 'no key was recorded') FROM machine)
        SELECT (SELECT count(*) FROM machine)::int AS machine_found, (SELECT ssh_host_key FROM deleted) AS cleared`,
    map: (rows: Row[]) => ({
      machineFound: Number(rows[0].machine_found) > 0,
      cleared: (rows[0].cleared ?? null) as string | null,
    }),
  };
}

/** Operator actions recorded with {@linkcode recordOperatorAction}. */
const OPERATOR_EVENTS = [
  HistoryEvent.PoweredOn,
  HistoryEvent.PoweredOff,
  HistoryEvent.Restarted,
] as const;

/**
 * Writes an operator's action on a machine to history: the event, who, and
 * what was done (e.g. "sent GracefulShutdown, then ForceOff; PowerState Off").
 */
export function recordOperatorAction(params: {
  machineId: string;
  event: typeof OPERATOR_EVENTS[number];
  actor: string;
  detail: string;
  process?: Process | null;
}): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const event = check.oneOf("event", p.event, OPERATOR_EVENTS);
  const actor = check.text("actor", p.actor, { maxLength: 256 });
  const detail = check.text("detail", p.detail, { maxLength: 2000 });
  const process = p.process == null ? null : check.oneOf("process", p.process, PROCESSES);
  return tag(
    "recordOperatorAction",
    (g) =>
      sql`INSERT INTO work_history (machine_id, process, event, actor, detail)
        SELECT ${machineId}::uuid, ${process}::text, ${event}::text, ${actor}::text, ${detail}::text ${g.where}`,
  );
}

/**
 * After a power action through the BMC: the power state now, the status it
 * means, and whether an operator holds the machine off (`heldOffBy`: set;
 * null: released, the loops may act on it again).
 */
export function machineSetPower(params: {
  machineId: string;
  providerStatus: ProviderStatus;
  providerPowerState: string;
  heldOffBy: string | null;
}): QuerySpec<void> {
  const p = check.options("params", params);
  const machineId = check.uuid("machineId", p.machineId);
  const status = check.providerStatus("providerStatus", p.providerStatus);
  const powerState = check.text("providerPowerState", p.providerPowerState, { maxLength: 32 });
  const heldOffBy = check.optionalText("heldOffBy", p.heldOffBy, { maxLength: 256 });
  return tag(
    "machineSetPower",
    (g) =>
      sql`UPDATE machine_provided SET provider_status = ${status}::text, provider_power_state = ${powerState}::text,
          provider_status_cause = NULL,
          provider_held_off_at = CASE WHEN ${heldOffBy}::text IS NULL THEN NULL ELSE now() END,
          provider_held_off_by = ${heldOffBy}::text
        WHERE machine_id = ${machineId}::uuid ${g.and}`,
  );
}

/** The inventory's machines in the BMDB at one location. */
export interface InventoryLocationCounts {
  location: string | null;
  /** Machines recorded for the Inventory provider at this location. */
  machines: number;
  /** Of those, no longer in the inventory file (Missing). */
  missing: number;
  /** Of those, without a BMC (no power control). */
  withoutBmc: number;
}

/** Per location: the Inventory provider's machines in the BMDB, those Missing and those without a BMC. */
export function inventoryLocations(): QuerySpec<InventoryLocationCounts[]> {
  return {
    name: "inventoryLocations",
    kind: "read",
    build: () =>
      sql`SELECT provider_location AS location, count(*)::int AS machines,
          count(*) FILTER (WHERE provider_status = 'Missing')::int AS missing,
          count(*) FILTER (WHERE provider_bmc IS NULL)::int AS without_bmc
        FROM machine_provided WHERE provider = ${Provider.Inventory}::text
        GROUP BY provider_location ORDER BY provider_location NULLS LAST`,
    map: (rows) =>
      rows.map((r) => ({
        location: (r.location ?? null) as string | null,
        machines: Number(r.machines),
        missing: Number(r.missing),
        withoutBmc: Number(r.without_bmc),
      })),
  };
}
