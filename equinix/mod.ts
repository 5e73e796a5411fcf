/**
 * Equinix Metal: the API client Drover provisions and manages machines with.
 *
 * - {@linkcode EquinixClient}: one project's devices, hardware reservations
 *   and SSH keys. One call in flight at a time, requests spaced by the API
 *   rate (2 s by default), transient failures (network, timeout, 5xx, 429)
 *   retried with backoff until a deadline, every call abortable.
 *   `createDevice` and `createSSHKey` are safe to retry (a witness tag, the
 *   label); `deleteDevice` treats "already gone" as done.
 * - Errors to handle with `instanceof`: {@linkcode MetalApiError},
 *   {@linkcode DeadlineExceededError}, {@linkcode RaceLostError},
 *   {@linkcode NoReservationProvidedError}, {@linkcode SSHKeyLabelConflictError},
 *   {@linkcode MalformedReplyError}, {@linkcode ClientClosedError}.
 * - The API's JSON shapes (snake_case, as the API sends them) as zod schemas and types.
 *
 * ```ts
 * using client = new EquinixClient({ baseUrl, token, projectId });
 * const free = (await client.listReservations()).find((r) => r.provisionable && !r.device);
 * const device = await client.createDevice({ hardware_reservation_id: free!.id, metro: "sv",
 *   plan: "c3.small.x86", operating_system: "ubuntu_24_04", hostname: "m1" }, { signal });
 * await client.rebootDevice(device.id);
 * ```
 *
 * The Metal API simulator (tests, `deno task sim`, the embedded dev mode) has
 * its own entry, `equinix/simulator/mod.ts`, and is not re-exported here, so
 * importing the client never loads the simulator.
 *
 * @module
 */
export { type CallOptions, EquinixClient } from "./client.ts";
export type { EquinixClientOptions } from "./config.ts";
export {
  ClientClosedError,
  DeadlineExceededError,
  MalformedReplyError,
  MetalApiError,
  NoReservationProvidedError,
  RaceLostError,
  type ReplyIssue,
  RequestFailedError,
  SSHKeyLabelConflictError,
} from "./errors.ts";
export { type ErrorKind, METRIC_NAMES, type Operation, OPERATIONS, type RequestOutcome } from "./metrics.ts";
export {
  type Device,
  type DeviceCreateRequest,
  type DeviceState,
  type Facility,
  type HardwareReservation,
  idFromHref,
  type IPAssignment,
  type Metro,
  type Plan,
  type Reference,
  type SSHKey,
  type SSHKeyCreateRequest,
  type SSHKeyUpdateRequest,
} from "./schemas.ts";
