/**
 * Errors of the simulator's in-process side. (The HTTP side answers with
 * Redfish error bodies instead: redfish_error.ts.)
 *
 * @module
 */
import type { ResetType } from "./config.ts";

/** What took a simulated system down: a Reset, power switched behind the BMC's back, or the simulator closing. */
export type SystemDownTrigger = ResetType | "setPower" | "simulator closed";

/** The reason a program running on a simulated system is aborted with. */
export class SystemDownError extends Error {
  /** `trigger` says what took the system down. */
  constructor(readonly systemId: string, readonly trigger: SystemDownTrigger) {
    super(`Simulated system "${systemId}" went down: ${trigger}`);
    this.name = "SystemDownError";
  }
}

/** `run()` on a system that is off, powering on or off, or mid-restart. */
export class SystemNotRunningError extends Error {
  /** `powerState` is the system's when `run()` was called. */
  constructor(readonly systemId: string, readonly powerState: string) {
    super(`Cannot run on simulated system "${systemId}": it is not running (PowerState ${powerState})`);
    this.name = "SystemNotRunningError";
  }
}

/** The simulator closed while something waited on it. */
export class BmcSimulatorClosedError extends Error {
  constructor() {
    super("The BMC simulator closed");
    this.name = "BmcSimulatorClosedError";
  }
}
