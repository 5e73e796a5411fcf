/**
 * Errors of the simulator's in-process side (the HTTP side answers with the
 * API's error bodies instead, see api_error.ts).
 *
 * @module
 */

/** Why a simulated machine went down: its program's signal aborts with this. */
export type MachineDownTrigger = "reboot" | "power_off" | "reinstall" | "delete" | "simulator_closed";

/** The reason a program running on a simulated machine is aborted with. */
export class MachineDownError extends Error {
  constructor(readonly deviceId: string, readonly trigger: MachineDownTrigger) {
    super(`Simulated machine "${deviceId}" went down: ${trigger.replace("_", " ")}`);
    this.name = "MachineDownError";
  }
}

/** `waitForState` waited for a device that is gone (deprovisioned, or never existed). */
export class DeviceGoneError extends Error {
  constructor(readonly deviceId: string, readonly awaitedState: string) {
    super(`Device "${deviceId}" is gone: it will never be ${awaitedState}`);
    this.name = "DeviceGoneError";
  }
}

/** The simulator closed while something waited on it. */
export class SimulatorClosedError extends Error {
  constructor() {
    super("The Metal API simulator closed");
    this.name = "SimulatorClosedError";
  }
}

/** The simulator was asked to run something on a machine that is not active. */
export class MachineNotRunningError extends Error {
  constructor(readonly deviceId: string, readonly state: string) {
    super(`Cannot run on simulated machine "${deviceId}": the device is ${state}, not active`);
    this.name = "MachineNotRunningError";
  }
}
