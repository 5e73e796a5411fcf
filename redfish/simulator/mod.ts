/**
 * A Redfish BMC simulator: an HTTP(S) server speaking the subset of DMTF
 * Redfish that Drover uses on machines people own (service root, systems
 * with PowerState and the ComputerSystem.Reset action, sessions, tasks,
 * the manager), with a power model that takes time, fault injection, and
 * simulated systems an agent can run on in-process. It is the Redfish
 * client's test peer, the demo's machines and the benchmark's fleet;
 * `deno task bmc-sim` runs BMCs standalone (main.ts). Responses follow DMTF's
 * schemas in `redfish/reference/` (checked by tests/redfish/conformance_test.ts).
 *
 * ```ts
 * await using sim = await startBmcSimulator({ systems: [{ powerState: "Off", transitionMs: 100 }] });
 * // a client talks to sim.url with sim.username / sim.password (a session, or HTTP Basic)
 * await sim.system("1").waitForPowerState("On", AbortSignal.timeout(5_000));
 * await sim.system("1").run((signal) => agent.run({ signal })); // aborted when the system goes down
 * sim.faults.unavailable = { count: 1, retryAfterSeconds: 2 }; // the next request: 503, Retry-After: 2
 * ```
 *
 * What it refuses, and how (statuses as real BMCs give them, bodies as
 * `redfish-error.v1_0_2.json`, MessageIds from Base.1.19): no or bad
 * credentials → 401 NoValidSession / ResourceAtUriUnauthorized with
 * `WWW-Authenticate: Basic`; an unknown URI → 404 ResourceNotFound; a method
 * a URI lacks → 405 OperationNotAllowed with `Allow`; a body that is not a
 * JSON object → 400 MalformedJSON; a Reset without ResetType → 400
 * ActionParameterMissing, with one not allowed → 400
 * ActionParameterValueNotInList; a session beyond the limit → 503
 * SessionLimitExceeded.
 *
 * A lost reply (`faults.loseReplies`) is carried out, then its TCP
 * connection is destroyed before any byte of the reply is sent: the client
 * sees a connection reset (fetch rejects with a TypeError), never a status.
 *
 * @module
 */
export { startBmcSimulator } from "./simulator.ts";
export type { BmcSimulator } from "./simulator.ts";
export { startBmcFleet } from "./fleet.ts";
export type { BmcFleet, BmcFleetStats } from "./fleet.ts";
export {
  type BmcSimulatorOptions,
  DEFAULT_RESET_TYPES,
  type PowerState,
  RESET_TYPES,
  type ResetType,
  type SimulatedSystemOptions,
} from "./config.ts";
export type { BmcFaults } from "./faults.ts";
export type { BmcStats } from "./stats.ts";
export type { SimulatedSystem } from "./system.ts";
export { BmcSimulatorClosedError, SystemDownError, type SystemDownTrigger, SystemNotRunningError } from "./errors.ts";
