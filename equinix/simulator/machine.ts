/**
 * The simulated server behind a device: programs (an agent) run on it while
 * the device is active and are aborted when it goes down.
 *
 * @module
 */
import { MachineDownError, type MachineDownTrigger, MachineNotRunningError } from "./errors.ts";
import type { SimulatedMachine } from "./types.ts";

/** A machine whose power the device lifecycle switches. */
export class Machine implements SimulatedMachine {
  #boots = 0;
  /** Aborts when the machine goes down; undefined while it is down. */
  #power: AbortController | undefined;
  readonly #deviceState: () => string;

  /** `deviceState` reads the device's current state (for errors). */
  constructor(readonly deviceId: string, readonly publicIPv4: string, deviceState: () => string) {
    this.#deviceState = deviceState;
  }

  get boots(): number {
    return this.#boots;
  }

  get running(): boolean {
    return this.#power !== undefined;
  }

  async run<T>(program: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!this.#power) throw new MachineNotRunningError(this.deviceId, this.#deviceState());
    return await program(this.#power.signal);
  }

  /** The device became active: the machine is up (again). */
  boot(): void {
    if (this.#power) return;
    this.#power = new AbortController();
    this.#boots++;
  }

  /** The device left the active state: running programs are aborted with a {@link MachineDownError}. */
  down(trigger: MachineDownTrigger): void {
    const power = this.#power;
    this.#power = undefined;
    power?.abort(new MachineDownError(this.deviceId, trigger));
  }
}
