/**
 * A simulated ComputerSystem: its power state machine, the resets that
 * drive it, and the programs (an agent) that run on it while it is up.
 *
 * Power moves On → PoweringOff → Off → PoweringOn → On, each transition
 * taking `transitionMs`. A Reset that changes anything first interrupts the
 * transition under way (so the last request wins), then aborts the programs
 * running on the system. See {@link System.reset} for each ResetType.
 *
 * @module
 */
import type { PowerState, ResetType, SystemConfig } from "./config.ts";
import { BmcSimulatorClosedError, SystemDownError, type SystemDownTrigger, SystemNotRunningError } from "./errors.ts";

/** A simulated system as tests and the demo see it. Structurally also an AgentHost: `{ run(program) }`. */
export interface SimulatedSystem {
  /** Member Id in `/redfish/v1/Systems`. */
  readonly id: string;
  /** The system's URI, e.g. "/redfish/v1/Systems/1". */
  readonly path: string;
  /** `PowerState` as the BMC shows it. */
  readonly powerState: PowerState;
  /** Powered and not mid-restart: programs may run. */
  readonly running: boolean;
  /** Times the system came up (1 for a system that starts On). */
  readonly boots: number;
  /** Every Reset accepted (answered 2xx), in order, including those that changed nothing. */
  readonly resets: readonly { resetType: ResetType; at: Date }[];
  /** `Status.Health`; settable. */
  health: "OK" | "Warning" | "Critical";
  /**
   * Runs `program` while the system is up; its signal aborts with a
   * {@link SystemDownError} when the system powers off or restarts (or the
   * simulator closes).
   * @throws {SystemNotRunningError} at once when the system is not running
   */
  run<T>(program: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Power changed behind the BMC client's back (the button, a PDU): immediate, interrupting any transition. */
  setPower(state: "On" | "Off"): void;
  /**
   * Resolves once `powerState` is `state` (at once if it is), on change
   * events.
   * @throws the signal's reason when it aborts first
   * @throws {BmcSimulatorClosedError} when the simulator closes first
   */
  waitForPowerState(state: PowerState, signal?: AbortSignal): Promise<void>;
  /**
   * Resolves once the system is running (at once if it is): after a power
   * on, or a ForceRestart's down time (whose PowerState stays On).
   * @throws the signal's reason when it aborts first
   * @throws {BmcSimulatorClosedError} when the simulator closes first
   */
  waitUntilRunning(signal?: AbortSignal): Promise<void>;
}

/** How a transition that a Reset started ended: run to its end, or cut short by another change or the close. */
export type TransitionEnd = "completed" | "interrupted";

/** What a Reset did. */
export interface ResetOutcome {
  /**
   * "changed": the power changes (now, or over `expectedMs`); "ignored":
   * accepted, nothing happens (Nmi, a graceful reset the OS ignores);
   * "redundant": accepted, nothing happens (On when on, ForceOff when off);
   * "conflict": the same, but refused (`redundantReset: "conflict"`) and not
   * recorded in `resets`.
   */
  effect: "changed" | "ignored" | "redundant" | "conflict";
  /** How long the change takes in all (0 when immediate or nothing happens). */
  expectedMs: number;
  /** Resolves when the change is over (at once when nothing changes). */
  settled: Promise<TransitionEnd>;
}

/** One step of a transition: after `delayMs` (from the previous step), the power state and the OS change. */
interface Step {
  delayMs: number;
  /** The PowerState entered; unchanged when absent. */
  state?: PowerState;
  /** "down" aborts the running programs; "up" boots (programs may run). */
  os?: "up" | "down";
}

const SETTLED: Promise<TransitionEnd> = Promise.resolve("completed");

/** A system whose power a BMC controls. */
export class System implements SimulatedSystem {
  readonly id: string;
  readonly path: string;
  /** The system's UUID, as its resource shows it. */
  readonly uuid: string = crypto.randomUUID();
  health: "OK" | "Warning" | "Critical" = "OK";
  readonly #config: SystemConfig;
  #powerState: PowerState;
  /** Aborts when the system goes down; undefined while it is not running. */
  #power: AbortController | undefined;
  #boots = 0;
  readonly #resets: { resetType: ResetType; at: Date }[] = [];
  #lastResetTime = new Date();
  /** The transition under way: its next step's timer and its end. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #transition: PromiseWithResolvers<TransitionEnd> | undefined;
  readonly #listeners = new Set<() => void>();
  #closed = false;

  constructor(config: SystemConfig) {
    this.#config = config;
    this.id = config.id;
    this.path = `/redfish/v1/Systems/${config.id}`;
    this.#powerState = config.powerState;
    if (config.powerState === "On") this.#up();
  }

  get powerState(): PowerState {
    return this.#powerState;
  }

  get running(): boolean {
    return this.#power !== undefined;
  }

  get boots(): number {
    return this.#boots;
  }

  get resets(): readonly { resetType: ResetType; at: Date }[] {
    return this.#resets.map((r) => ({ ...r }));
  }

  /** When the power last changed (the simulator's start until then). */
  get lastResetTime(): Date {
    return this.#lastResetTime;
  }

  /** The system's options, as resolved. */
  get config(): Readonly<SystemConfig> {
    return this.#config;
  }

  async run<T>(program: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (!this.#power) throw new SystemNotRunningError(this.id, this.#powerState);
    return await program(this.#power.signal);
  }

  setPower(state: "On" | "Off"): void {
    if (this.#closed) return;
    if (state === "On" && this.#powerState === "On") return;
    if (state === "Off" && this.#powerState === "Off") return;
    this.#interrupt();
    this.#lastResetTime = new Date();
    if (state === "On") {
      this.#up();
      this.#enter("On");
    } else {
      this.#enter("Off");
      this.#down("setPower");
    }
  }

  waitForPowerState(state: PowerState, signal?: AbortSignal): Promise<void> {
    return this.#waitUntil(() => this.#powerState === state, signal);
  }

  waitUntilRunning(signal?: AbortSignal): Promise<void> {
    return this.#waitUntil(() => this.#power !== undefined, signal);
  }

  /**
   * Carries out a Reset the BMC accepted (the caller checked that the
   * ResetType is allowed), and records it unless the outcome is "conflict".
   *
   * - On, ForceOn: PoweringOn, then On (redundant when On or PoweringOn).
   * - ForceOff: Off at once (redundant when Off).
   * - GracefulShutdown: PoweringOff, then Off (redundant when Off or
   *   PoweringOff; ignored unless `gracefulHonoured`).
   * - GracefulRestart: PoweringOff, Off, PoweringOn, On (ignored unless
   *   `gracefulHonoured`).
   * - ForceRestart: a warm reset: PowerState stays On, not running for
   *   `transitionMs`, then up again.
   * - PowerCycle: Off at once, PoweringOn after `transitionMs`, then On.
   * - PushPowerButton: powers on when Off or PoweringOff, else as
   *   GracefulShutdown.
   * - Nmi: ignored.
   * - A restart (GracefulRestart, ForceRestart, PowerCycle) of a system that
   *   is Off or PoweringOff powers it on.
   */
  reset(resetType: ResetType): ResetOutcome {
    const outcome = this.#plan(resetType);
    if (outcome.effect === "redundant" && this.#config.redundantReset === "conflict") {
      return { effect: "conflict", expectedMs: 0, settled: SETTLED };
    }
    this.#resets.push({ resetType, at: new Date() });
    return outcome;
  }

  /** Stops the transition under way and aborts running programs (the simulator closes). */
  close(): void {
    if (this.#closed) return;
    this.#interrupt();
    this.#closed = true;
    this.#down("simulator closed");
    this.#notify();
  }

  /** Resolves once `done()` is true, checked now and on every change. */
  #waitUntil(done: () => boolean, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const settled = (): boolean => {
        if (signal?.aborted) reject(signal.reason);
        else if (done()) resolve();
        else if (this.#closed) reject(new BmcSimulatorClosedError());
        else return false;
        return true;
      };
      if (settled()) return;
      const stop = () => {
        this.#listeners.delete(onChange);
        signal?.removeEventListener("abort", onAbort);
      };
      const onChange = () => {
        if (settled()) stop();
      };
      const onAbort = () => {
        settled();
        stop();
      };
      this.#listeners.add(onChange);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #plan(resetType: ResetType): ResetOutcome {
    const t = this.#config.transitionMs;
    const state = this.#powerState;
    const offOrGoing = state === "Off" || state === "PoweringOff";
    const unchanged = (effect: "ignored" | "redundant"): ResetOutcome => ({ effect, expectedMs: 0, settled: SETTLED });
    const start = (steps: Step[]) => this.#start(resetType, steps);
    const powerOn: Step[] = [{ delayMs: 0, state: "PoweringOn" }, { delayMs: t, state: "On", os: "up" }];
    const shutdown: Step[] = [{ delayMs: 0, state: "PoweringOff", os: "down" }, { delayMs: t, state: "Off" }];
    switch (resetType) {
      case "On":
      case "ForceOn":
        return state === "On" || state === "PoweringOn" ? unchanged("redundant") : start(powerOn);
      case "ForceOff":
        return state === "Off" ? unchanged("redundant") : start([{ delayMs: 0, state: "Off", os: "down" }]);
      case "PushPowerButton":
        if (offOrGoing) return start(powerOn);
        return this.#config.gracefulHonoured ? start(shutdown) : unchanged("ignored");
      case "GracefulShutdown":
        if (offOrGoing) return unchanged("redundant");
        return this.#config.gracefulHonoured ? start(shutdown) : unchanged("ignored");
      case "GracefulRestart":
        if (offOrGoing) return start(powerOn);
        return this.#config.gracefulHonoured ? start([...shutdown, ...powerOn]) : unchanged("ignored");
      case "ForceRestart":
        if (offOrGoing) return start(powerOn);
        // A warm reset: the power stays on, the OS is gone for a while.
        return start([{ delayMs: 0, state: "On", os: "down" }, { delayMs: t, os: "up" }]);
      case "PowerCycle":
        if (offOrGoing) return start(powerOn);
        return start([
          { delayMs: 0, state: "Off", os: "down" },
          { delayMs: t, state: "PoweringOn" },
          { delayMs: t, state: "On", os: "up" },
        ]);
      case "Nmi":
        return unchanged("ignored");
    }
  }

  /** Interrupts the transition under way and runs `steps`, those without delay at once. */
  #start(trigger: ResetType, steps: Step[]): ResetOutcome {
    this.#interrupt();
    this.#lastResetTime = new Date();
    const transition = Promise.withResolvers<TransitionEnd>();
    this.#transition = transition;
    const run = (index: number): void => {
      this.#timer = undefined;
      if (index === steps.length) {
        this.#transition = undefined;
        transition.resolve("completed");
        return;
      }
      const step = steps[index];
      const apply = () => {
        // The state first, so that a program's abort listener sees where the system is.
        if (step.state) this.#enter(step.state);
        if (step.os === "up") this.#up();
        if (step.os === "down") this.#down(trigger);
        // A program's abort listener may have started another transition meanwhile: this one is over.
        if (this.#transition === transition) run(index + 1);
      };
      if (step.delayMs === 0) apply();
      else this.#timer = setTimeout(apply, step.delayMs);
    };
    run(0);
    return {
      effect: "changed",
      expectedMs: steps.reduce((sum, step) => sum + step.delayMs, 0),
      settled: transition.promise,
    };
  }

  #interrupt(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#transition?.resolve("interrupted");
    this.#transition = undefined;
  }

  #up(): void {
    if (this.#power) return;
    this.#power = new AbortController();
    this.#boots++;
    this.#notify();
  }

  #down(trigger: SystemDownTrigger): void {
    const power = this.#power;
    this.#power = undefined;
    power?.abort(new SystemDownError(this.id, trigger));
  }

  #enter(state: PowerState): void {
    this.#powerState = state;
    this.#notify();
  }

  #notify(): void {
    for (const listener of [...this.#listeners]) listener();
  }
}
