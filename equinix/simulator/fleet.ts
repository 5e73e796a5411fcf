/**
 * The in-process view of the simulated provider: its reservations and
 * devices as the API shows them, their machines, and waiting for a device's
 * state (on the state's change events, no polling).
 *
 * @module
 */
import type { Device, DeviceState, HardwareReservation } from "../schemas.ts";
import { DeviceGoneError, SimulatorClosedError } from "./errors.ts";
import type { Renderer } from "./render.ts";
import type { ProviderState } from "./state.ts";
import type { SimulatedFleet, SimulatedMachine } from "./types.ts";

/** Reservations are shown with their device in full (as with `include=device`). */
const WITH_DEVICE: ReadonlySet<string> = new Set(["device"]);

export class Fleet implements SimulatedFleet {
  readonly #state: ProviderState;
  readonly #renderer: Renderer;

  constructor(state: ProviderState, renderer: Renderer) {
    this.#state = state;
    this.#renderer = renderer;
  }

  /** Every reservation, with its device in full. */
  reservations(): HardwareReservation[] {
    return this.#state.reservations().map((r) => this.#renderer.reservation(r, WITH_DEVICE));
  }

  devices(): Device[] {
    return this.#state.devices().map((d) => this.#renderer.device(d));
  }

  device(id: string): Device | undefined {
    const record = this.#state.device(id);
    return record && this.#renderer.device(record);
  }

  /** `provisionable: false` adds reservations that cannot be provisioned even while free. */
  addReservations(
    count: number,
    options: { plan?: string; metro?: string; provisionable?: boolean } = {},
  ): HardwareReservation[] {
    return this.#state.addReservations(count, { ...options, usable: options.provisionable })
      .map((r) => this.#renderer.reservation(r));
  }

  /**
   * Resolves with the device once it is in `state`. "deleted" resolves once
   * the device is gone (deprovisioned), with its last view.
   * @throws {DeviceGoneError} when the device is gone, or goes, before reaching `state`
   * @throws {SimulatorClosedError} when the simulator closes first
   * @throws the signal's reason when it aborts first
   */
  waitForState(deviceId: string, state: DeviceState, signal?: AbortSignal): Promise<Device> {
    return new Promise((resolve, reject) => {
      /** Settles the promise if the wait is over; true when it did. */
      const settled = (): boolean => {
        const device = this.#state.device(deviceId);
        const deleted = this.#state.deletedDevice(deviceId);
        if (signal?.aborted) reject(signal.reason);
        else if (device?.state === state) resolve(this.#renderer.device(device));
        else if (device && !this.#state.closed) return false;
        else if (device) reject(new SimulatorClosedError());
        else if (deleted && state === "deleted") resolve(this.#renderer.device(deleted));
        else reject(new DeviceGoneError(deviceId, state));
        return true;
      };
      if (settled()) return;
      const stop = () => {
        unsubscribe();
        signal?.removeEventListener("abort", onAbort);
      };
      const unsubscribe = this.#state.subscribe((event) => {
        if ((event.kind === "closed" || event.deviceId === deviceId) && settled()) stop();
      });
      const onAbort = () => {
        settled();
        stop();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  machine(deviceId: string): SimulatedMachine | undefined {
    return this.#state.device(deviceId)?.machine;
  }
}
