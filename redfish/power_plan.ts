/**
 * Which ResetTypes a power action sends, chosen from what the system allows
 * and its state. Pure: `RedfishClient.plan` shows the plan to an operator,
 * and the power actions carry out the same plan.
 *
 * - on: nothing if On; else On, else ForceOn, else PushPowerButton.
 * - off: nothing if Off; else GracefulShutdown, then ForceOff if not off
 *   after the graceful timeout; ForceOff at once without GracefulShutdown.
 * - restart: like on if Off. Else GracefulRestart, then a forced restart if
 *   not restarted after the graceful timeout; without GracefulRestart (Dell
 *   iDRAC 9 offers none), the forced restart at once. The forced restart:
 *   ForceRestart when the BMC reports `LastResetTime` (a warm reset keeps
 *   PowerState On, so only LastResetTime shows it happened), else
 *   PowerCycle, else ForceOff then On, else ForceRestart unobservable.
 *
 * A state in transition counts as where it is heading (PoweringOn as On,
 * PoweringOff as Off): the action first waits for the transition to end.
 * An unknown power state counts as On (off and restart act; on sends On).
 *
 * @module
 */
import type { ResetType, SystemState } from "./system_state.ts";

/** A power action. */
export type PowerAction = "on" | "off" | "restart";

/** The ResetTypes that power a system on, in order of preference. */
const ON_TYPES = ["On", "ForceOn", "PushPowerButton"] as const;
type OnType = typeof ON_TYPES[number];

/** How a restart is forced, and how its effect is seen. */
export type ForcedRestart =
  | { kind: "reset"; resetType: "ForceRestart" | "PowerCycle"; observable: boolean }
  | { kind: "offOn"; on: OnType };

/** What a power action does. */
export type PowerPlan =
  | { kind: "none"; target: "On" | "Off" }
  | { kind: "on"; resetType: OnType | "Resume" }
  | { kind: "off"; graceful: boolean; force: boolean }
  | { kind: "restart"; graceful: boolean; force: ForcedRestart | undefined }
  | { kind: "unsupported"; needed: string };

/** Chooses the plan for `action` on a system in `state`. */
export function choosePlan(action: PowerAction, state: SystemState): PowerPlan {
  const allowed = new Set(state.resetTypes);
  const power = state.powerState === "PoweringOn"
    ? "On"
    : state.powerState === "PoweringOff"
    ? "Off"
    : state.powerState;
  if (action === "on" || (action === "restart" && power === "Off")) {
    if (power === "On") return { kind: "none", target: "On" };
    if (power === "Paused") {
      return allowed.has("Resume") ? { kind: "on", resetType: "Resume" } : { kind: "unsupported", needed: "Resume" };
    }
    const on = ON_TYPES.find((t) => allowed.has(t));
    return on === undefined
      ? { kind: "unsupported", needed: "On, ForceOn or PushPowerButton" }
      : { kind: "on", resetType: on };
  }
  if (action === "off") {
    if (power === "Off") return { kind: "none", target: "Off" };
    const graceful = allowed.has("GracefulShutdown");
    const force = allowed.has("ForceOff");
    return graceful || force ? { kind: "off", graceful, force } : {
      kind: "unsupported",
      needed: "GracefulShutdown or ForceOff",
    };
  }
  const graceful = allowed.has("GracefulRestart");
  const force = forcedRestart(allowed, state.lastResetTime !== null);
  if (!graceful && force === undefined) {
    return { kind: "unsupported", needed: "GracefulRestart, ForceRestart, PowerCycle, or ForceOff and On" };
  }
  return { kind: "restart", graceful, force };
}

/** The forced restart the system allows, in order of preference (see the module doc). */
function forcedRestart(allowed: ReadonlySet<ResetType>, reportsLastResetTime: boolean): ForcedRestart | undefined {
  if (allowed.has("ForceRestart") && reportsLastResetTime) {
    return { kind: "reset", resetType: "ForceRestart", observable: true };
  }
  // A power cycle shows as PowerState leaving On, unless it is shorter than a poll interval.
  if (allowed.has("PowerCycle")) return { kind: "reset", resetType: "PowerCycle", observable: true };
  const on = ON_TYPES.find((t) => allowed.has(t));
  if (allowed.has("ForceOff") && on !== undefined) return { kind: "offOn", on };
  if (allowed.has("ForceRestart")) return { kind: "reset", resetType: "ForceRestart", observable: false };
  return undefined;
}

/** The ResetTypes a plan may send, in order. */
export function planResetTypes(plan: PowerPlan): ResetType[] {
  switch (plan.kind) {
    case "none":
    case "unsupported":
      return [];
    case "on":
      return [plan.resetType];
    case "off":
      return [
        ...(plan.graceful ? ["GracefulShutdown" as const] : []),
        ...(plan.force ? ["ForceOff" as const] : []),
      ];
    case "restart":
      return [...(plan.graceful ? ["GracefulRestart" as const] : []), ...forcedTypes(plan.force)];
  }
}

/** What a plan does, in words, e.g. `GracefulRestart, then ForceRestart if not restarted after 120 s`. */
export function describePlan(plan: PowerPlan, gracefulTimeoutMs: number): string {
  const after = seconds(gracefulTimeoutMs);
  switch (plan.kind) {
    case "none":
      return `nothing: already ${plan.target}`;
    case "unsupported":
      return `cannot: the system allows none of ${plan.needed}`;
    case "on":
      return plan.resetType;
    case "off":
      if (plan.graceful && plan.force) return `GracefulShutdown, then ForceOff if not off after ${after}`;
      if (plan.graceful) return `GracefulShutdown (ForceOff is not allowed: fails if not off after ${after})`;
      return "ForceOff";
    case "restart": {
      const force = describeForced(plan.force);
      if (plan.graceful && force !== undefined) return `GracefulRestart, then ${force} if not restarted after ${after}`;
      if (plan.graceful) return `GracefulRestart (no forced restart is allowed: fails if not restarted after ${after})`;
      return force ?? "nothing";
    }
  }
}

function forcedTypes(force: ForcedRestart | undefined): ResetType[] {
  if (force === undefined) return [];
  return force.kind === "reset" ? [force.resetType] : ["ForceOff", force.on];
}

function describeForced(force: ForcedRestart | undefined): string | undefined {
  if (force === undefined) return undefined;
  if (force.kind === "offOn") return `ForceOff, then ${force.on}`;
  if (force.observable) return force.resetType;
  return `${force.resetType} (its effect may not be observable: the BMC reports no LastResetTime)`;
}

/** `120 s`, `0.2 s`. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
