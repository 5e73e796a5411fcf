/**
 * The simulator's records as the API's JSON objects (components/schemas/
 * Device, HardwareReservation, SSHKey, Project). Nested objects are `{href}`
 * references unless the request `include`d them.
 *
 * @module
 */
import type { Device, HardwareReservation, Project, SSHKey } from "../schemas.ts";
import { href } from "./routes.ts";
import type { SSHKeyRecord } from "./ssh_keys.ts";
import type { DeviceRecord, ProviderState, ReservationRecord } from "./state.ts";

/** No nested object expanded. */
const NOTHING: ReadonlySet<string> = new Set();

/** Renders records of one state; `include` names the nested objects to expand. */
export class Renderer {
  readonly #state: ProviderState;

  constructor(state: ProviderState) {
    this.#state = state;
  }

  project(): Project & Record<string, unknown> {
    return {
      id: this.#state.projectId,
      name: "Drover simulated project",
      href: href("projects", this.#state.projectId),
      created_at: this.#state.projectCreatedAt,
      updated_at: this.#state.projectCreatedAt,
      backend_transfer_enabled: false,
      devices: this.#state.devices().map((d) => ({ href: href("devices", d.id) })),
      ssh_keys: [],
    };
  }

  device(record: DeviceRecord, include: ReadonlySet<string> = NOTHING): Device & Record<string, unknown> {
    const { metro, facility } = this.#state.catalog.site(record.metro);
    const reservation = this.#state.reservation(record.reservationId);
    return {
      id: record.id,
      short_id: record.id.slice(0, 8),
      href: href("devices", record.id),
      hostname: record.hostname,
      ...(record.description !== undefined ? { description: record.description } : {}),
      state: record.state,
      tags: [...record.tags],
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      locked: false,
      billing_cycle: "hourly",
      ip_addresses: [record.addresses.publicIPv4, record.addresses.privateIPv4],
      metro,
      facility,
      plan: this.#state.catalog.plan(record.plan),
      operating_system: this.#state.catalog.operatingSystem(record.operatingSystem),
      hardware_reservation: include.has("hardware_reservation") && reservation
        ? this.reservation(reservation)
        : { href: href("hardware-reservations", record.reservationId) },
      project: { href: href("projects", this.#state.projectId) },
      ...(record.userdata !== undefined ? { userdata: record.userdata } : {}),
    };
  }

  reservation(
    record: ReservationRecord,
    include: ReadonlySet<string> = NOTHING,
  ): HardwareReservation & Record<string, unknown> {
    const { facility } = this.#state.catalog.site(record.metro);
    const device = record.deviceId === undefined ? undefined : this.#state.device(record.deviceId);
    return {
      id: record.id,
      short_id: record.id.slice(0, 8),
      href: href("hardware-reservations", record.id),
      created_at: record.createdAt,
      provisionable: this.#state.provisionable(record),
      spare: false,
      need_of_service: false,
      plan: this.#state.catalog.plan(record.plan),
      facility,
      project: { href: href("projects", this.#state.projectId) },
      ...(device ? { device: include.has("device") ? this.device(device) : { href: href("devices", device.id) } } : {}),
    };
  }

  sshKey(record: SSHKeyRecord): SSHKey & Record<string, unknown> {
    return {
      id: record.id,
      href: href("ssh-keys", record.id),
      label: record.label,
      key: record.key,
      fingerprint: record.fingerprint,
      tags: [...record.tags],
      created_at: record.createdAt,
      updated_at: record.updatedAt,
      entity: { href: href("projects", record.projectId) },
    };
  }
}

/** The `include` query parameter (style form, explode false: "a,b"; repeated parameters are merged too). */
export function includes(values: readonly string[]): ReadonlySet<string> {
  if (values.length === 0) return NOTHING;
  return new Set(values.flatMap((v) => v.split(",")).map((v) => v.trim()).filter((v) => v !== ""));
}
