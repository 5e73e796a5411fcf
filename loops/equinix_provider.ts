/**
 * Equinix Metal as a {@linkcode MachineProvider}: its devices are machines,
 * those carrying the managed tag are Drover's, and it creates devices from
 * free hardware reservations. It has no power control of a BMC's kind: a
 * quiet machine is rebooted through the Metal API.
 *
 * A reboot is watched by polling the device's state (every `pollIntervalMs`),
 * not by sleeping a fixed time: done when the device is active again after
 * leaving active, or when it stayed active for `quietRebootMs` (a provider
 * may reboot without showing a state change).
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Logger, type MachineProvided, type ProvidedDevice, Provider } from "../bmdb/mod.ts";
import {
  type DeviceState,
  type EquinixClient,
  type HardwareReservation,
  MetalApiError,
  RaceLostError,
} from "../equinix/mod.ts";
import { providedFields } from "./provider_view.ts";
import type { MachineCreation, MachineListing, MachineProvider, StatusSweep } from "./provider.ts";

export interface EquinixProviderOptions {
  /** The tag that marks devices Drover manages. @default "drover-managed" */
  managedTag?: string;
  /** @default "ubuntu_24_04" */
  operatingSystem?: string;
  /** Hostnames are this followed by the reservation's short id. @default "drover-" */
  hostnamePrefix?: string;
  /** Between two reads of the device's state during a reboot. @default 5000 */
  pollIntervalMs?: number;
  /** A reboot that has not brought the device back within this fails. @default 900000 (15 min) */
  rebootTimeoutMs?: number;
  /** A device still active this long after the reboot request counts as rebooted. @default 60000 */
  quietRebootMs?: number;
  /** Skipped reservations and lost races are logged here. */
  logger?: Logger;
}

/** States a device passes through while it reboots. */
const REBOOTING: ReadonlySet<DeviceState> = new Set(["powering_off", "powering_on"]);

function nonNegativeMs(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) {
    throw new RangeError(`EquinixProvider: ${name} must be >= 0 ms: current value is ${v}`);
  }
  return v;
}

/** Creation from hardware reservations, safely retried by the client (a witness tag per request). */
class ReservationCreation implements MachineCreation<HardwareReservation> {
  constructor(
    readonly client: EquinixClient,
    readonly options: Required<Pick<EquinixProviderOptions, "managedTag" | "operatingSystem" | "hostnamePrefix">> & {
      logger?: Logger;
    },
  ) {}

  async freeSlots({ signal }: { signal?: AbortSignal }): Promise<HardwareReservation[]> {
    const reservations = await this.client.listReservations({ signal });
    return reservations.filter((r) => r.provisionable && !r.device);
  }

  async create(reservation: HardwareReservation, { signal }: { signal?: AbortSignal }) {
    const metro = reservation.facility?.metro?.code;
    const plan = reservation.plan?.slug;
    if (!metro || !plan) {
      this.options.logger?.warn("skipping a reservation without plan or metro", { reservationId: reservation.id });
      return undefined;
    }
    try {
      const device = await this.client.createDevice({
        hardware_reservation_id: reservation.id,
        metro,
        plan,
        operating_system: this.options.operatingSystem,
        hostname: this.options.hostnamePrefix + (reservation.short_id ?? reservation.id.slice(0, 8)),
        tags: [this.options.managedTag],
      }, { signal });
      return providedFields(device);
    } catch (error) {
      if (error instanceof RaceLostError) {
        this.options.logger?.warn("reservation taken by someone else", { reservationId: reservation.id });
        return undefined;
      }
      throw error;
    }
  }
}

/** Equinix Metal's devices as machines (see the module comment). */
export class EquinixProvider implements MachineProvider {
  readonly provider = Provider.Equinix;
  readonly client: EquinixClient;
  readonly creation: MachineCreation<HardwareReservation>;
  readonly statuses: StatusSweep;
  readonly #managedTag: string;
  readonly #pollIntervalMs: number;
  readonly #rebootTimeoutMs: number;
  readonly #quietRebootMs: number;

  constructor(client: EquinixClient, options: EquinixProviderOptions = {}) {
    const managedTag = options.managedTag ?? "drover-managed";
    if (managedTag === "") throw new RangeError("EquinixProvider: managedTag must not be empty");
    this.client = client;
    this.#managedTag = managedTag;
    this.#pollIntervalMs = nonNegativeMs("pollIntervalMs", options.pollIntervalMs, 5000);
    this.#rebootTimeoutMs = nonNegativeMs("rebootTimeoutMs", options.rebootTimeoutMs, 15 * 60_000);
    this.#quietRebootMs = nonNegativeMs("quietRebootMs", options.quietRebootMs, 60_000);
    this.creation = new ReservationCreation(client, {
      managedTag,
      operatingSystem: options.operatingSystem ?? "ubuntu_24_04",
      hostnamePrefix: options.hostnamePrefix ?? "drover-",
      logger: options.logger,
    });
    this.statuses = {
      // Every device, page by page (the BMDB ignores those it does not know); nothing stated exactly.
      forEachPage: (onPage, { signal }) =>
        client.forEachDevicePage((devices) => onPage(devices.map(providedFields)), { signal }),
      exact: [],
    };
  }

  async listMachines({ signal }: { signal?: AbortSignal }): Promise<MachineListing> {
    const devices = await this.client.listDevices({ signal });
    const present = new Set(devices.map((d) => d.id));
    const machines: ProvidedDevice[] = devices.filter((d) => d.tags?.includes(this.#managedTag)).map(providedFields);
    return { machines, has: (id) => present.has(id) };
  }

  /** Reboots the device and waits until it is active again. */
  async recover(machine: MachineProvided, { signal }: { signal: AbortSignal }): Promise<void> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.#rebootTimeoutMs)]);
    try {
      await this.#reboot(machine.providerId, deadline);
    } catch (error) {
      if (!signal.aborted && deadline.aborted) {
        throw new Error(
          `device ${machine.providerId} did not come back from its reboot within ${this.#rebootTimeoutMs} ms`,
        );
      }
      throw error;
    }
  }

  async #reboot(deviceId: string, signal: AbortSignal): Promise<void> {
    const requestedAt = performance.now();
    try {
      await this.client.rebootDevice(deviceId, { signal });
    } catch (error) {
      // A reboot whose reply was lost and that was sent again meets the
      // device already rebooting: that is our reboot under way.
      if (!(error instanceof MetalApiError && error.status === 422)) throw error;
      const { state } = await this.client.getDevice(deviceId, { signal });
      if (!REBOOTING.has(state)) throw error;
    }
    let leftActive = false;
    for (;;) {
      const { state } = await this.client.getDevice(deviceId, { signal });
      if (state === "active") {
        if (leftActive || performance.now() - requestedAt >= this.#quietRebootMs) return;
      } else if (REBOOTING.has(state)) {
        leftActive = true;
      } else {
        throw new Error(`device ${deviceId} is ${state} after its reboot, not active`);
      }
      await sleep(this.#pollIntervalMs, undefined, { signal });
    }
  }
}
