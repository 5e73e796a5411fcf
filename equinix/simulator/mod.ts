/**
 * A Metal API simulator: an HTTP server speaking the subset of the Equinix
 * Metal API that Drover uses (projects, hardware reservations, devices with
 * their lifecycle, SSH keys, pagination, the API's error format), with fault
 * injection and simulated machines an agent can run on in-process. It is the
 * dev default (embedded) and the client's test peer; `deno task sim` runs it
 * standalone (main.ts).
 *
 * ```ts
 * await using sim = await startSimulator({ reservations: 3, timing: { provisioningMs: 100 } });
 * // a client talks to sim.url with X-Auth-Token: sim.token, in project sim.projectId
 * const device = await sim.fleet.waitForState(deviceId, "active", AbortSignal.timeout(5_000));
 * await sim.fleet.machine(device.id)?.run((signal) => agent.run({ signal }));
 * sim.faults.rateLimitNext(1, 2); // the next request gets 429 with Retry-After: 2
 * ```
 *
 * What it refuses, and how (the real API's statuses): a wrong or missing
 * `X-Auth-Token` → 401; an unknown id, or a path id that is not a UUID →
 * 404; a body the real API would refuse, or a device without a
 * `hardware_reservation_id` (it serves reserved hardware only) → 422; all
 * with `{"errors": ["<field>: <what was wrong>", …]}`.
 *
 * @module
 */
export { startSimulator } from "./simulator.ts";
export {
  DeviceGoneError,
  MachineDownError,
  type MachineDownTrigger,
  MachineNotRunningError,
  SimulatorClosedError,
} from "./errors.ts";
export { OPERATION_IDS, type OperationId } from "./routes.ts";
export type {
  DeviceProfile,
  Exchange,
  FaultController,
  FaultSettings,
  SimulatedFleet,
  SimulatedMachine,
  Simulator,
  SimulatorOptions,
  SimulatorStats,
  SimulatorTiming,
} from "./types.ts";
