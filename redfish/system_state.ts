/**
 * A ComputerSystem's power-relevant state, read from its Redfish resource:
 * `PowerState`, `Status`, `LastResetTime` and the `ResetType`s its
 * `ComputerSystem.Reset` action allows.
 *
 * @module
 */
import type { ComputerSystem } from "./schemas.ts";

/** Redfish `PowerState` values. */
export const POWER_STATES = ["On", "Off", "PoweringOn", "PoweringOff", "Paused"] as const;
/** A system's `PowerState`. */
export type PowerState = typeof POWER_STATES[number];

/** Redfish `ResetType` values. */
export const RESET_TYPES = [
  "On",
  "ForceOff",
  "GracefulShutdown",
  "GracefulRestart",
  "ForceRestart",
  "Nmi",
  "ForceOn",
  "PushPowerButton",
  "PowerCycle",
  "Suspend",
  "Pause",
  "Resume",
  "FullPowerCycle",
] as const;
/** A `ComputerSystem.Reset` `ResetType`. */
export type ResetType = typeof RESET_TYPES[number];

/**
 * What a BMC allows when it says nothing (no `ResetType@Redfish.AllowableValues`
 * and no `@Redfish.ActionInfo`): the five that every BMC we know of supports.
 * An assumption: a BMC that lacks one answers the reset with a 400, which
 * the caller sees as a {@linkcode RedfishError}.
 */
export const ASSUMED_RESET_TYPES: readonly ResetType[] = [
  "On",
  "ForceOff",
  "GracefulShutdown",
  "GracefulRestart",
  "ForceRestart",
];

/** A system's state, as read by `RedfishClient.readSystem`. */
export interface SystemState {
  /** The system's path, e.g. `/redfish/v1/Systems/1`. */
  path: string;
  /** `PowerState`, or null when the BMC does not say (or says something unknown). */
  powerState: PowerState | null;
  /** `Status.Health`, or null. */
  health: "OK" | "Warning" | "Critical" | null;
  /** `Status.State` (e.g. `Enabled`, `Starting`), or null. */
  state: string | null;
  /**
   * The ResetTypes the system allows: `ResetType@Redfish.AllowableValues`,
   * else those of its `@Redfish.ActionInfo`, else {@linkcode ASSUMED_RESET_TYPES}.
   */
  resetTypes: ResetType[];
  /** `LastResetTime`, or null when the BMC does not report it (then a warm reset cannot be observed). */
  lastResetTime: string | null;
}

/** A system read from its resource: the state, and where its reset action is. */
export interface SystemReading {
  state: SystemState;
  /** The Reset action's `target`; undefined when the system offers no reset. */
  resetTarget: string | undefined;
  /** Where the allowable ResetTypes are, when the action names an ActionInfo instead of listing them. */
  actionInfo: string | undefined;
}

/**
 * The reading of `system` (at `path`). `resetTypes` is what the resource
 * itself lists; when it lists nothing, the caller fills them in from
 * `actionInfo` or {@linkcode ASSUMED_RESET_TYPES}.
 */
export function readingOf(path: string, system: ComputerSystem): SystemReading {
  const reset = system.Actions?.["#ComputerSystem.Reset"];
  const health = system.Status?.Health;
  return {
    state: {
      path,
      powerState: POWER_STATES.find((s) => s === system.PowerState) ?? null,
      health: health === "OK" || health === "Warning" || health === "Critical" ? health : null,
      state: system.Status?.State ?? null,
      resetTypes: resetTypesOf(reset?.["ResetType@Redfish.AllowableValues"]),
      lastResetTime: system.LastResetTime ?? null,
    },
    resetTarget: reset === undefined ? undefined : reset.target ?? `${path}/Actions/ComputerSystem.Reset`,
    actionInfo: reset?.["@Redfish.ActionInfo"] ?? undefined,
  };
}

/** The known ResetTypes among `values` (unknown OEM values dropped), in their order. */
export function resetTypesOf(values: readonly string[] | null | undefined): ResetType[] {
  return (values ?? []).flatMap((v) => RESET_TYPES.filter((t) => t === v));
}
