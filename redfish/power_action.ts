/**
 * Carrying out a power action: a {@linkcode PowerPlan}'s resets, each
 * followed by reading the system until the transition is seen and settles.
 * A 204 to a reset proves nothing: only the state read afterwards does.
 *
 * "Settled" is the target PowerState read on two consecutive polls (any
 * other reading in between, a failed read included, starts the count
 * again). A restart is "seen" when `LastResetTime` changes or PowerState
 * leaves On (Off, PoweringOff, PoweringOn), and is done once On has settled
 * after that.
 *
 * A reset whose reply was lost, timed out or was a 500 may or may not have
 * been acted on; it is never sent again. It counts as sent, and the polling
 * decides: that is how no machine is reset twice.
 *
 * @module
 */
import { abortableSleep } from "./abortable.ts";
import { PowerTransitionError, UnsupportedResetError } from "./errors.ts";
import { choosePlan, type ForcedRestart, type PowerAction, seconds } from "./power_plan.ts";
import { retryReason } from "./retry_policy.ts";
import type { PowerState, ResetType, SystemState } from "./system_state.ts";
import type { TaskFollowOptions, TaskOutcome } from "./task_monitor.ts";

/** Options of `powerOn`, `powerOff` and `restart`. */
export interface PowerOptions {
  /** Aborting ends every wait and request of the action at once; it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How long a graceful shutdown or restart may take before it is forced. @default {120_000} */
  gracefulTimeoutMs?: number;
  /** How long a forced transition (or one under way) may take to be seen and settle. @default {300_000} */
  settleTimeoutMs?: number;
  /** Time between two reads of the system while waiting. @default {2_000} */
  pollIntervalMs?: number;
}

/** What a power action did. */
export interface PowerActionResult {
  /** The action asked for. */
  action: PowerAction;
  /** The ResetTypes sent, in order (`[]` when the system was already there). */
  sent: ResetType[];
  /** The settled power state. */
  powerState: PowerState;
  /** From the first read to the settled state. */
  elapsedMs: number;
}

/** What a reset request came to. */
export type ResetReply =
  | { kind: "accepted"; taskMonitor: string | undefined }
  /** No usable reply (timeout, lost reply, 500): the BMC may or may not have acted. */
  | { kind: "unknown" }
  /** 409 to a reset that asks for the state the system is in (Dell does this): already there. */
  | { kind: "conflict" };

/** What a power action needs of its system. */
export interface PowerTarget {
  origin: string;
  path: string;
  /** Longest time one read may take before the poll counts it failed. */
  requestTimeoutMs: number;
  read(signal: AbortSignal): Promise<SystemState>;
  /** Sends one reset; `conflictMeansDone`: a 409 counts as already there (else it throws). */
  reset(resetType: ResetType, conflictMeansDone: boolean, signal: AbortSignal): Promise<ResetReply>;
  /** Polls a task monitor until the task ends: ok, or what went wrong (the task failed, or outlasted `timeoutMs`). */
  followTask(monitor: string, options: TaskFollowOptions): Promise<TaskOutcome>;
}

/** Runs `action` on `target`. See `RedfishClient.powerOn` for the contract. */
export async function runPowerAction(
  target: PowerTarget,
  action: PowerAction,
  options: PowerOptions = {},
): Promise<PowerActionResult> {
  const run = new PowerRun(target, action, options);
  return await run.start();
}

/** The PowerState a tracker waits for, and whether a reading ends the wait. */
type Tracker = (reading: SystemState | undefined) => boolean;

/** Done once `target` has been read twice in a row. */
function settledAt(target: PowerState | "either"): Tracker {
  let streak = 0;
  let last: PowerState | null = null;
  return (reading) => {
    const power = reading?.powerState ?? null;
    const matches = target === "either" ? power === "On" || power === "Off" : power === target;
    streak = !matches ? 0 : power === last ? streak + 1 : 1;
    last = power;
    return streak >= 2;
  };
}

/** Done once a restart has been seen (against `before`) and On has settled after it. */
function restartedFrom(before: SystemState): Tracker & { readonly seen: () => boolean } {
  let seen = false;
  let streak = 0;
  const tracker = (reading: SystemState | undefined) => {
    if (reading === undefined) {
      streak = 0;
      return false;
    }
    const { powerState, lastResetTime } = reading;
    if (lastResetTime !== null && lastResetTime !== before.lastResetTime) seen = true;
    if (powerState === "Off" || powerState === "PoweringOff" || powerState === "PoweringOn") seen = true;
    streak = seen && powerState === "On" ? streak + 1 : 0;
    return streak >= 2;
  };
  return Object.assign(tracker, { seen: () => seen });
}

class PowerRun {
  readonly #target: PowerTarget;
  readonly #action: PowerAction;
  readonly #signal: AbortSignal;
  readonly #gracefulTimeoutMs: number;
  readonly #settleTimeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #started = performance.now();
  readonly #sent: ResetType[] = [];
  readonly #seen: string[] = [];
  #last: SystemState | undefined;

  constructor(target: PowerTarget, action: PowerAction, options: PowerOptions) {
    this.#target = target;
    this.#action = action;
    this.#signal = options.signal ?? new AbortController().signal;
    this.#gracefulTimeoutMs = nonNegative("gracefulTimeoutMs", options.gracefulTimeoutMs ?? 120_000);
    this.#settleTimeoutMs = nonNegative("settleTimeoutMs", options.settleTimeoutMs ?? 300_000);
    this.#pollIntervalMs = nonNegative("pollIntervalMs", options.pollIntervalMs ?? 2_000);
  }

  async start(): Promise<PowerActionResult> {
    let state = this.#note(await this.#target.read(this.#signal));
    if (state.powerState === "PoweringOn" || state.powerState === "PoweringOff") {
      // Decide from where the system ends up, not from the middle of a transition.
      const settled = await this.#wait(this.#settleTimeoutMs, settledAt("either"));
      if (settled === undefined) {
        throw this.#fail(`the transition under way did not end within ${seconds(this.#settleTimeoutMs)}`);
      }
      state = settled;
    }
    const plan = choosePlan(this.#action, state);
    switch (plan.kind) {
      case "none":
        return this.#result(plan.target);
      case "unsupported": {
        const { origin, path } = this.#target;
        throw new UnsupportedResetError(origin, path, this.#action, state.resetTypes, plan.needed);
      }
      case "on":
        return await this.#forced(plan.resetType, "On");
      case "off":
        return await this.#off(plan.graceful, plan.force);
      case "restart":
        return await this.#restart(plan.graceful, plan.force, state);
    }
  }

  async #off(graceful: boolean, force: boolean): Promise<PowerActionResult> {
    if (graceful) {
      const leftMs = await this.#send("GracefulShutdown", this.#gracefulTimeoutMs, true);
      if (await this.#wait(leftMs, settledAt("Off"))) return this.#result("Off");
      if (!force) throw this.#fail(`not Off within ${seconds(this.#gracefulTimeoutMs)}, and ForceOff is not allowed`);
    }
    return await this.#forced("ForceOff", "Off");
  }

  async #restart(graceful: boolean, force: ForcedRestart | undefined, state: SystemState): Promise<PowerActionResult> {
    if (graceful) {
      const leftMs = await this.#send("GracefulRestart", this.#gracefulTimeoutMs, true);
      const restarted = restartedFrom(state);
      if (await this.#wait(leftMs, restarted)) return this.#result("On");
      if (restarted.seen()) {
        // The restart is under way (it left On, or LastResetTime moved): forcing now would reset it twice.
        if (await this.#wait(this.#settleTimeoutMs, restarted)) return this.#result("On");
        throw this.#fail(`restarted, but not back On within ${seconds(this.#settleTimeoutMs)}`);
      }
      if (force === undefined) {
        throw this.#fail(`not restarted within ${seconds(this.#gracefulTimeoutMs)}, and no forced restart is allowed`);
      }
    }
    if (force === undefined) {
      throw new TypeError("Cannot restart: the plan has neither a graceful nor a forced restart");
    }
    if (force.kind === "offOn") {
      await this.#forced("ForceOff", "Off");
      return await this.#forced(force.on, "On");
    }
    // Against the latest reading: a LastResetTime that moved during the graceful wait was seen there.
    const restarted = restartedFrom(this.#last ?? state);
    const leftMs = await this.#send(force.resetType, this.#settleTimeoutMs, false);
    if (await this.#wait(leftMs, restarted)) return this.#result("On");
    if (!force.observable && !restarted.seen()) {
      throw this.#fail(
        `its effect cannot be observed: the BMC reports no LastResetTime and PowerState stayed On ` +
          `(the machine may well have restarted)`,
      );
    }
    throw this.#fail(`not restarted within ${seconds(this.#settleTimeoutMs)}`);
  }

  /** Sends `resetType` and waits until `target` has settled, within the settle timeout. */
  async #forced(resetType: ResetType, target: "On" | "Off"): Promise<PowerActionResult> {
    const leftMs = await this.#send(resetType, this.#settleTimeoutMs, false);
    if (await this.#wait(leftMs, settledAt(target))) return this.#result(target);
    throw this.#fail(`not ${target} within ${seconds(this.#settleTimeoutMs)}`);
  }

  /**
   * Sends `resetType`, follows its task if the BMC made one, and returns how
   * much of `budgetMs` is left for reading the state (at least two polls, so
   * that a state settled as the task ended can still be seen). A graceful
   * reset's task that failed or outlasted the budget leaves the decision to
   * the state (and so to the forced reset); any other's fails the action.
   */
  async #send(resetType: ResetType, budgetMs: number, graceful: boolean): Promise<number> {
    const started = performance.now();
    // Dell answers On to an On system and ForceOff to an Off one with 409: already there.
    const conflictMeansDone = resetType === "On" || resetType === "ForceOn" || resetType === "ForceOff";
    const reply = await this.#target.reset(resetType, conflictMeansDone, this.#signal);
    this.#sent.push(resetType);
    if (reply.kind === "accepted" && reply.taskMonitor !== undefined) {
      const task = await this.#target.followTask(reply.taskMonitor, {
        timeoutMs: budgetMs,
        pollIntervalMs: this.#pollIntervalMs,
        signal: this.#signal,
      });
      if (!task.ok && !graceful) throw this.#fail(task.problem);
    }
    return Math.max(budgetMs - (performance.now() - started), 2 * this.#pollIntervalMs);
  }

  /**
   * Reads the system every poll interval until `done` says so (resolving
   * with that reading) or `timeoutMs` has passed (resolving undefined). A
   * read that fails transiently (a BMC busy with the reset) is noted and
   * polling goes on; any other failure is thrown.
   */
  async #wait(timeoutMs: number, done: Tracker): Promise<SystemState | undefined> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      await abortableSleep(Math.max(0, Math.min(this.#pollIntervalMs, deadline - performance.now())), this.#signal);
      // One slow read may run past the deadline by up to a request's timeout, not by its retries.
      const budgetMs = Math.max(deadline - performance.now(), this.#target.requestTimeoutMs);
      const readSignal = AbortSignal.any([this.#signal, AbortSignal.timeout(Math.ceil(budgetMs))]);
      let reading: SystemState | undefined;
      try {
        reading = this.#note(await this.#target.read(readSignal));
      } catch (error) {
        if (this.#signal.aborted) throw this.#signal.reason;
        if (!readSignal.aborted && retryReason("idempotent", error) === undefined) throw error;
        this.#noteText("unreachable");
      }
      if (done(reading)) return reading;
      if (performance.now() >= deadline) return undefined;
    }
  }

  #note(state: SystemState): SystemState {
    this.#last = state;
    this.#noteText(state.powerState ?? "unknown");
    return state;
  }

  #noteText(text: string): void {
    if (this.#seen.at(-1) !== text) this.#seen.push(text);
  }

  #fail(problem: string): PowerTransitionError {
    return new PowerTransitionError(this.#target.origin, this.#target.path, this.#action, [...this.#sent], [
      ...this.#seen,
    ], problem);
  }

  #result(powerState: PowerState): PowerActionResult {
    return {
      action: this.#action,
      sent: [...this.#sent],
      powerState,
      elapsedMs: Math.round(performance.now() - this.#started),
    };
  }
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`Cannot run power action: ${name} must be >= 0: current value is ${value}`);
  }
  return value;
}
