/**
 * Control loops: the runner that drives a loop's workers over the BMDB, the
 * DB query limiter they share, and their metrics. The loops themselves
 * (provisioner, updater, initializer, recoverer, janitor) build on these.
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
