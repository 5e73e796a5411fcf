/**
 * Redfish: Drover's client for the BMCs of machines we own (DMTF Redfish,
 * `ComputerSystem.Reset`), built for BMCs as they are: slow, fragile, few
 * sessions, self-signed certificates, and a 204 to a reset that proves
 * nothing.
 *
 * - {@linkcode RedfishPool}: the clients of many BMCs, sharing an in-flight
 *   limit (`maxInFlight`) and the `drover_redfish_*` metrics.
 * - {@linkcode RedfishClient}: one BMC. One request in flight, one session
 *   (HTTP basic where the BMC offers none), transient failures retried with
 *   backoff and `Retry-After`. `readSystem` reads a system's power state;
 *   `powerOn`, `powerOff` and `restart` choose ResetTypes from what the
 *   system allows, and wait until the new state is seen and settles; `plan`
 *   says beforehand what they would send.
 * - Errors to handle with `instanceof`: {@linkcode RedfishError} (and its
 *   {@linkcode MalformedReplyError}), {@linkcode BmcUnreachableError},
 *   {@linkcode BmcTimeoutError}, {@linkcode SystemNotFoundError},
 *   {@linkcode PowerTransitionError}, {@linkcode UnsupportedResetError},
 *   {@linkcode ClientClosedError}.
 *
 * ```ts
 * await using pool = new RedfishPool({ maxInFlight: 64 });
 * const bmc = pool.client({ url: "https://10.21.4.17", username: "root", password, tls: "insecure" });
 * const state = await bmc.readSystem(undefined);                 // the BMC's only system
 * console.log(bmc.plan("restart", state).description);           // GracefulRestart, then ForceRestart if …
 * const result = await bmc.restart(state.path, { signal });      // resolves once restarted and On
 * ```
 *
 * The BMC simulator (tests, the embedded dev mode) has its own entry,
 * `redfish/simulator/mod.ts`, and is not re-exported here.
 *
 * @module
 */
export { type BmcEndpoint, type RedfishPoolOptions, type TlsMode } from "./config.ts";
export { RedfishPool } from "./pool.ts";
export { RedfishClient } from "./client.ts";
export { type PowerActionResult, type PowerOptions } from "./power_action.ts";
export { type PowerAction } from "./power_plan.ts";
export {
  ASSUMED_RESET_TYPES,
  POWER_STATES,
  type PowerState,
  RESET_TYPES,
  type ResetType,
  type SystemState,
} from "./system_state.ts";
export {
  BmcTimeoutError,
  BmcUnreachableError,
  ClientClosedError,
  MalformedReplyError,
  PowerTransitionError,
  RedfishError,
  SystemNotFoundError,
  type UnreachableReason,
  UnsupportedResetError,
} from "./errors.ts";
export { METRIC_NAMES, type Operation, type RequestOutcome } from "./metrics.ts";
