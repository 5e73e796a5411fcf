/**
 * What the simulated provider holds: the project's hardware reservations and
 * the devices on them, each with its machine, and the device clock that moves
 * devices through their states on timers (no polling).
 *
 * Device lifecycle (durations from {@link SimulatorTiming}):
 * - create: queued → provisioning → active (the machine boots); a device profile
 *   may give a reservation's devices their own provisioning time, or make
 *   them end `failed` instead of active
 * - reboot: active → powering_off → powering_on → active (rebootMs in all, half each)
 * - power_off: active → powering_off → inactive; power_on: inactive → powering_on → active
 * - reinstall: active|inactive → reinstalling → active (provisioningMs)
 * - delete: any → deprovisioning → gone after deprovisionMs (the reservation is free again)
 *
 * Refusals are `ApiError`s (api_error.ts) with the status the real API gives.
 *
 * @module
 */
import type { DeviceState } from "../schemas.ts";
import { AddressPool, type DeviceAddresses } from "./addresses.ts";
import { notFound, unprocessable } from "./api_error.ts";
import { Catalog } from "./catalog.ts";
import type { MachineDownTrigger } from "./errors.ts";
import { Machine } from "./machine.ts";
import { href } from "./routes.ts";
import type { DeviceProfile, SimulatorTiming } from "./types.ts";

/** A hardware reservation of the project. */
export interface ReservationRecord {
  readonly id: string;
  readonly createdAt: string;
  /** Plan slug. */
  readonly plan: string;
  /** Metro code. */
  readonly metro: string;
  /** False for a reservation that cannot be provisioned even while free (e.g. one in service). */
  readonly usable: boolean;
  /** The device on it, if any (also while that device deprovisions). */
  deviceId: string | undefined;
}

/** A device on a reservation. */
export interface DeviceRecord {
  readonly id: string;
  readonly createdAt: string;
  updatedAt: string;
  state: DeviceState;
  readonly hostname: string;
  readonly description: string | undefined;
  readonly tags: readonly string[];
  readonly userdata: string | undefined;
  readonly reservationId: string;
  readonly plan: string;
  readonly metro: string;
  operatingSystem: string;
  readonly addresses: DeviceAddresses;
  readonly machine: Machine;
  /** The device clock's next transition, if one is pending. */
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** What a device is created with (the request, checked). */
export interface DeviceCreation {
  /** A reservation id, or "next-available". */
  hardwareReservationId: string;
  metro: string;
  plan: string;
  operatingSystem: string;
  hostname?: string;
  description?: string;
  tags?: readonly string[];
  userdata?: string;
}

export type DeviceAction = "power_on" | "power_off" | "reboot" | "rescue" | "reinstall";

/** A device changed (state, or it is gone), or the simulator closed. */
export type StateEvent = { kind: "device"; deviceId: string } | { kind: "closed" };

export interface ProviderStateOptions {
  projectId: string;
  timing: SimulatorTiming;
  /** Plan slug of reservations added without one. */
  defaultPlan: string;
  /** Metro codes reservations added without one are spread over, round robin. */
  metros: readonly string[];
  /** Per device: its own provisioning time, or a failed provisioning. */
  deviceProfile?: DeviceProfile;
}

/** "Any metro" in a create request. */
const ANY_METRO = "any";
const NEXT_AVAILABLE = "next-available";

/** The project's reservations and devices, and the device clock. */
export class ProviderState {
  readonly projectId: string;
  readonly projectCreatedAt = new Date().toISOString();
  readonly catalog = new Catalog();
  readonly #timing: SimulatorTiming;
  readonly #profile: DeviceProfile | undefined;
  readonly #defaultPlan: string;
  readonly #metros: readonly string[];
  readonly #addresses = new AddressPool();
  readonly #reservations = new Map<string, ReservationRecord>();
  readonly #devices = new Map<string, DeviceRecord>();
  /** Devices that finished deprovisioning, as they were last (state "deleted"). */
  readonly #deleted = new Map<string, DeviceRecord>();
  readonly #listeners = new Set<(event: StateEvent) => void>();
  #metroTurn = 0;
  #closed = false;

  constructor(options: ProviderStateOptions) {
    this.projectId = options.projectId;
    this.#timing = options.timing;
    this.#profile = options.deviceProfile;
    this.#defaultPlan = options.defaultPlan;
    this.#metros = options.metros;
  }

  /** All reservations, oldest first (in the order they were added). */
  reservations(): ReservationRecord[] {
    return [...this.#reservations.values()];
  }

  reservation(id: string): ReservationRecord | undefined {
    return this.#reservations.get(id);
  }

  /** True when a device can be created on the reservation now. */
  provisionable(reservation: ReservationRecord): boolean {
    return reservation.usable && reservation.deviceId === undefined;
  }

  /** Adds `count` reservations; without a metro they are spread over the configured metros. */
  addReservations(
    count: number,
    options: { plan?: string; metro?: string; usable?: boolean } = {},
  ): ReservationRecord[] {
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`Cannot add reservations: count must be an integer >= 0: current value is ${count}`);
    }
    const createdAt = new Date().toISOString();
    return Array.from({ length: count }, () => {
      const metro = options.metro ?? this.#metros[this.#metroTurn++ % this.#metros.length];
      const reservation: ReservationRecord = {
        id: crypto.randomUUID(),
        createdAt,
        plan: options.plan ?? this.#defaultPlan,
        metro,
        usable: options.usable ?? true,
        deviceId: undefined,
      };
      this.#reservations.set(reservation.id, reservation);
      return reservation;
    });
  }

  /** All devices, oldest first (in the order they were created); deprovisioning ones included until they are gone. */
  devices(): DeviceRecord[] {
    return [...this.#devices.values()];
  }

  device(id: string): DeviceRecord | undefined {
    return this.#devices.get(id);
  }

  /** A device that finished deprovisioning, with state "deleted". */
  deletedDevice(id: string): DeviceRecord | undefined {
    return this.#deleted.get(id);
  }

  /**
   * Creates a device on a provisionable reservation and starts its clock.
   * @throws {ApiError} 422 when the reservation is unknown, taken, or not for this plan and metro
   */
  createDevice(creation: DeviceCreation): DeviceRecord {
    const reservation = this.#pickReservation(creation);
    const id = crypto.randomUUID();
    const now = new Date().toISOString();
    const addresses = this.#addresses.allocate(href("devices", id));
    const device: DeviceRecord = {
      id,
      createdAt: now,
      updatedAt: now,
      state: "queued",
      hostname: creation.hostname ?? `sim-${id.slice(0, 8)}`,
      description: creation.description,
      tags: [...creation.tags ?? []],
      userdata: creation.userdata,
      reservationId: reservation.id,
      plan: reservation.plan,
      metro: reservation.metro,
      operatingSystem: creation.operatingSystem,
      addresses,
      machine: new Machine(id, addresses.publicIPv4.address, () => this.#devices.get(id)?.state ?? "deleted"),
      timer: undefined,
    };
    reservation.deviceId = id;
    this.#devices.set(id, device);
    this.#emit(device);
    const index = [...this.#reservations.keys()].indexOf(reservation.id);
    const profile = this.#profile?.({ reservationIndex: index, hostname: device.hostname }) ?? {};
    this.#after(device, this.#timing.queuedMs, () => {
      this.#enter(device, "provisioning");
      this.#after(
        device,
        profile.provisioningMs ?? this.#timing.provisioningMs,
        () => this.#enter(device, profile.failProvisioning ? "failed" : "active"),
      );
    });
    return device;
  }

  /**
   * Starts an action on a device.
   * @throws {ApiError} 404 for an unknown device, 422 when the device's state does not allow the action
   */
  performAction(deviceId: string, action: DeviceAction): void {
    const device = this.#devices.get(deviceId);
    if (!device) throw notFound();
    const refuse = (allowed: string) =>
      unprocessable(`type: cannot ${action} a device that is ${device.state} (it must be ${allowed})`);
    const half = Math.floor(this.#timing.rebootMs / 2);
    switch (action) {
      case "reboot":
        if (device.state !== "active") throw refuse("active");
        this.#enter(device, "powering_off", "reboot");
        this.#after(device, half, () => {
          this.#enter(device, "powering_on");
          this.#after(device, this.#timing.rebootMs - half, () => this.#enter(device, "active"));
        });
        return;
      case "power_off":
        if (device.state !== "active") throw refuse("active");
        this.#enter(device, "powering_off", "power_off");
        this.#after(device, half, () => this.#enter(device, "inactive"));
        return;
      case "power_on":
        if (device.state !== "inactive") throw refuse("inactive");
        this.#enter(device, "powering_on");
        this.#after(device, this.#timing.rebootMs - half, () => this.#enter(device, "active"));
        return;
      case "reinstall":
        if (device.state !== "active" && device.state !== "inactive") throw refuse("active or inactive");
        this.#enter(device, "reinstalling", "reinstall");
        this.#after(device, this.#timing.provisioningMs, () => this.#enter(device, "active"));
        return;
      case "rescue":
        throw unprocessable("type: the simulator does not support the rescue action");
    }
  }

  /**
   * Starts deprovisioning a device; after deprovisionMs it is gone and its
   * reservation is free. Deleting a device that is already deprovisioning
   * changes nothing.
   * @throws {ApiError} 404 for an unknown device
   */
  deleteDevice(deviceId: string): void {
    const device = this.#devices.get(deviceId);
    if (!device) throw notFound();
    if (device.state === "deprovisioning") return;
    this.#enter(device, "deprovisioning", "delete");
    this.#after(device, this.#timing.deprovisionMs, () => {
      this.#devices.delete(device.id);
      const reservation = this.#reservations.get(device.reservationId);
      if (reservation?.deviceId === device.id) reservation.deviceId = undefined;
      this.#deleted.set(device.id, { ...device, state: "deleted", updatedAt: new Date().toISOString() });
      this.#emit(device);
    });
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Calls `listener` on every device change and on close; returns the unsubscribe function. */
  subscribe(listener: (event: StateEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops the device clock and takes every machine down. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const device of this.#devices.values()) {
      clearTimeout(device.timer);
      device.timer = undefined;
      device.machine.down("simulator_closed");
    }
    for (const listener of [...this.#listeners]) listener({ kind: "closed" });
  }

  #pickReservation(creation: DeviceCreation): ReservationRecord {
    const field = "hardware_reservation_id";
    const fits = (r: ReservationRecord) =>
      r.plan === creation.plan && (creation.metro === ANY_METRO || r.metro === creation.metro);
    if (creation.hardwareReservationId === NEXT_AVAILABLE) {
      const free = this.#reservations.values().find((r) => this.provisionable(r) && fits(r));
      if (!free) {
        throw unprocessable(
          `${field}: no provisionable reservation for plan ${creation.plan} in metro ${creation.metro}`,
        );
      }
      return free;
    }
    const id = creation.hardwareReservationId;
    const reservation = this.#reservations.get(id);
    if (!reservation) throw unprocessable(`${field}: no hardware reservation "${id}" in this project`);
    if (!this.provisionable(reservation)) {
      const why = reservation.deviceId ? `device ${reservation.deviceId} is on it` : "it is not in service";
      throw unprocessable(`${field}: reservation ${id} is not provisionable: ${why}`);
    }
    if (reservation.plan !== creation.plan) {
      throw unprocessable(`plan: reservation ${id} is for plan ${reservation.plan}, not ${creation.plan}`);
    }
    if (!fits(reservation)) {
      throw unprocessable(`metro: reservation ${id} is in metro ${reservation.metro}, not ${creation.metro}`);
    }
    return reservation;
  }

  /** Moves the device to `state`; the machine boots on entering active and goes down (because of `trigger`) on leaving it. */
  #enter(device: DeviceRecord, state: DeviceState, trigger?: MachineDownTrigger): void {
    device.state = state;
    device.updatedAt = new Date().toISOString();
    if (state === "active") device.machine.boot();
    else if (trigger) device.machine.down(trigger);
    this.#emit(device);
  }

  /** Replaces the device's pending transition with `next`, `ms` from now. */
  #after(device: DeviceRecord, ms: number, next: () => void): void {
    clearTimeout(device.timer);
    device.timer = undefined;
    if (this.#closed) return;
    device.timer = setTimeout(() => {
      device.timer = undefined;
      next();
    }, ms);
  }

  #emit(device: DeviceRecord): void {
    for (const listener of [...this.#listeners]) listener({ kind: "device", deviceId: device.id });
  }
}
