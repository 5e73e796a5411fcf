/**
 * Control loops: the runner that drives a loop's workers over the BMDB, the
 * DB query limiter they share, and their metrics. The loops themselves
 * (provisioner, updater, initializer, recoverer, janitor) build on these and
 * act on machines through a {@linkcode MachineProvider} (Equinix Metal, or an
 * inventory of machines you own), and the initializer starts agents through
 * an {@linkcode AgentStarter}.
 *
 * @module
 */
export { type Commit, type ControlLoop, LoopRunner, type LoopRunnerOptions } from "./runner.ts";
export { type LoopMetrics, loopMetrics } from "./metrics.ts";
export { parseRate, TokenBucket, type TokenBucketOptions } from "./token_bucket.ts";
export { Janitor, type JanitorOptions, type JanitorPass } from "./janitor.ts";
export {
  decodeReservationKey,
  etcdReservationStore,
  followEtcdReservations,
  memoryReservationStore,
  prefixRangeEnd,
  RESERVATIONS_PREFIX,
  ReservationsPublisher,
  type ReservationsPublisherOptions,
  type ReservationStore,
  type ReservationView,
  toReservationView,
} from "./reservations.ts";
export { Provisioner, type ProvisionerOptions, type ProvisionerPass, type ProvisionerStatus } from "./provisioner.ts";
export { type ProvidedFields, providedFields } from "./provider_view.ts";
export { Updater, type UpdaterOptions, type UpdaterPass } from "./updater.ts";
export type { AgentStarter, StartedAgent } from "./agent_starter.ts";
export { Initializer, type InitializerOptions } from "./initializer.ts";
export { Recoverer, type RecovererOptions } from "./recoverer.ts";
export { SimulatedAgentStarter, type SimulatedAgentStarterOptions, type SimulatedHosts } from "./simulated_starter.ts";
export { type ControlPlane, type ControlPlaneOptions, type ProviderSetup, startControlPlane } from "./control_plane.ts";
export {
  type MachineCreation,
  type MachineListing,
  type MachineProvider,
  NoPowerControlError,
  type PowerAction,
  type PowerControl,
  type PowerOutcome,
  type StatusSweep,
} from "./provider.ts";
export { EquinixProvider, type EquinixProviderOptions } from "./equinix_provider.ts";
export { bmcLabel, InventoryProvider, type InventoryProviderOptions } from "./inventory_provider.ts";
export {
  type PowerActionAccepted,
  PowerActionRefusedError,
  PowerActions,
  type PowerActionsOptions,
} from "./power_actions.ts";
export { Nudge } from "./schedule.ts";
export {
  AgentStartError,
  defaultAgentCommand,
  SshAgentStarter,
  type SshAgentStarterOptions,
  type SshTarget,
} from "./ssh_starter.ts";
export { fingerprint, type HostKeyPolicy, openSshPublicKey } from "./host_keys.ts";
export { SimulatorAgentStarter, type SimulatorAgentStarterOptions } from "./simulator_agent_starter.ts";
