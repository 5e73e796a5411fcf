/**
 * The Metal API client Drover's control loops and operator tools use (the
 * semantics of Monogon's wrapngo, seed 000): one call in flight, requests
 * spaced by the API rate, transient failures retried until a deadline, and
 * the mutating calls made safe to retry (a witness tag for devices, the
 * label for SSH keys).
 *
 * @module
 */
import type { Registry } from "prom-client";
import type { z } from "zod";
import { NoReservationProvidedError, RaceLostError, SSHKeyLabelConflictError } from "./errors.ts";
import { equinixMetrics, type Operation } from "./metrics.ts";
import {
  type Device,
  type DeviceCreateRequest,
  DeviceListSchema,
  DeviceSchema,
  type HardwareReservation,
  HardwareReservationListSchema,
  HardwareReservationSchema,
  type Meta,
  type Reference,
  type SSHKey,
  type SSHKeyCreateRequest,
  SSHKeyListSchema,
  SSHKeySchema,
  type SSHKeyUpdateRequest,
} from "./schemas.ts";
import { checkId, checkText, type EquinixClientOptions, resolveClientOptions } from "./config.ts";
import { type ApiRequest, type Http, Transport } from "./transport.ts";

/** The last argument of every call. */
export interface CallOptions {
  /** Stops the call wherever it is (queued, in flight, between retries); it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** The API's page number limit (components/parameters/Page): a stop for a server that never ends a listing. */
const MAX_PAGE = 100_000;

/**
 * A Metal API client for one project.
 *
 * Every call waits for the calls before it (one at a time, in order), spaces
 * its HTTP requests at least `apiRate` apart, and retries network errors,
 * timeouts, 5xx and 429 (after `Retry-After`) with exponential backoff until
 * `maxElapsedMs`. The errors callers handle:
 * - `MetalApiError`: the API refused the request (4xx other than 429); not retried.
 * - `DeadlineExceededError`: transient failures lasted past `maxElapsedMs`; `cause` is the last one.
 * - `MalformedReplyError`: a 2xx reply that does not match the API's shape.
 * - the signal's reason when it aborted; `ClientClosedError` after `close()`.
 *
 * Arguments are checked before anything is sent: a bad one throws a
 * `TypeError` or `RangeError` naming it.
 */
export class EquinixClient implements Disposable {
  /** The registry holding this client's metrics. */
  readonly metrics: Registry;
  readonly projectId: string;
  readonly #transport: Transport;
  readonly #pageSize: number;
  readonly #witnessTagPrefix: string;

  /** @throws {TypeError | RangeError} an option is missing or out of range; the message names it. */
  constructor(options: EquinixClientOptions) {
    const config = resolveClientOptions(options);
    this.projectId = config.projectId;
    this.metrics = config.registry;
    this.#pageSize = config.pageSize;
    this.#witnessTagPrefix = config.witnessTagPrefix;
    this.#transport = new Transport({ ...config, metrics: equinixMetrics(config.registry) });
  }

  /** The device `id` (GET /devices/{id}). A missing device is a `MetalApiError` with status 404. */
  async getDevice(id: string, options: CallOptions = {}): Promise<Device> {
    const deviceId = checkId("getDevice", "id", id);
    return await this.#transport.call(
      "getDevice",
      (http) => http.json({ method: "GET", path: `/devices/${deviceId}` }, DeviceSchema),
      options,
    );
  }

  /** Every device of the project, all pages (GET /projects/{id}/devices). */
  async listDevices(options: CallOptions = {}): Promise<Device[]> {
    return await this.#listAll("listDevices", {
      path: `/projects/${this.projectId}/devices`,
      schema: DeviceListSchema,
      pick: (reply) => ({ items: reply.devices, meta: reply.meta }),
      signal: options.signal,
    });
  }

  /**
   * The project's devices page by page: `onPage` handles each page before the
   * next is read, so a large fleet is never held at once. Each page is its
   * own call (other calls may go in between, and a failed page is retried on
   * its own); the API pages a live collection, so a device that moves while
   * the pages are read may be seen twice or not at all in one sweep.
   */
  async forEachDevicePage(
    onPage: (devices: Device[]) => Promise<void> | void,
    options: CallOptions = {},
  ): Promise<void> {
    const path = `/projects/${this.projectId}/devices`;
    for (let page = 1;; page++) {
      const reply = await this.#transport.call(
        "listDevices",
        (http) => http.json(this.#pageRequest(path, page), DeviceListSchema),
        options,
      );
      await onPage(reply.devices);
      if (!hasNextPage(reply.meta, page, reply.devices.length)) return;
    }
  }

  /**
   * Creates a device on `request.hardware_reservation_id`, safely retried.
   *
   * The request gets a witness tag (`<witnessTagPrefix><uuid>`, one per call).
   * Each attempt first reads the reservation: a device carrying our witness
   * tag means an earlier attempt created it (its reply was lost), and that
   * device is returned; a device without it belongs to someone else
   * ({@linkcode RaceLostError}); no device means the attempt creates one. So a
   * lost reply still yields exactly one device. The caller's request is not
   * changed.
   *
   * @throws {NoReservationProvidedError} no `hardware_reservation_id`; nothing is sent.
   * @throws {RaceLostError} the reservation holds another user's device; pick another reservation.
   */
  async createDevice(request: DeviceCreateRequest, options: CallOptions = {}): Promise<Device> {
    if (typeof request !== "object" || request === null) {
      throw new TypeError("Cannot createDevice: request must be an object");
    }
    const given = request.hardware_reservation_id;
    if (given === undefined || given === null || given === "") {
      throw this.#transport.refuse("createDevice", new NoReservationProvidedError());
    }
    const reservationId = checkId("createDevice", "request.hardware_reservation_id", given);
    if (request.tags !== undefined && !Array.isArray(request.tags)) {
      throw new TypeError("Cannot createDevice: request.tags must be an array of strings");
    }
    const witness = `${this.#witnessTagPrefix}${crypto.randomUUID()}`;
    const body: DeviceCreateRequest = { ...request, tags: [...(request.tags ?? []), witness] };
    return await this.#transport.call("createDevice", async (http) => {
      const { device } = await http.json(reservationRequest(reservationId), HardwareReservationSchema);
      if (device !== undefined) return await ownDevice(http, reservationId, { device, witness });
      // The reservation is free: create. A transient failure from here on runs this whole attempt again.
      return await http.json({ method: "POST", path: `/projects/${this.projectId}/devices`, body }, DeviceSchema);
    }, options);
  }

  /**
   * Deletes device `id` (DELETE /devices/{id}). A device that is already
   * gone (404) counts as deleted, so a retry after a lost reply succeeds.
   */
  async deleteDevice(id: string, options: CallOptions = {}): Promise<void> {
    const deviceId = checkId("deleteDevice", "id", id);
    await this.#transport.call(
      "deleteDevice",
      (http) => http.send({ method: "DELETE", path: `/devices/${deviceId}`, acceptStatuses: [404] }),
      options,
    );
  }

  /**
   * Reboots device `id` (POST /devices/{id}/actions, type reboot). Not
   * idempotent: when a reply is lost the retry reboots again.
   */
  async rebootDevice(id: string, options: CallOptions = {}): Promise<void> {
    const deviceId = checkId("rebootDevice", "id", id);
    await this.#transport.call(
      "rebootDevice",
      (http) => http.send({ method: "POST", path: `/devices/${deviceId}/actions`, body: { type: "reboot" } }),
      options,
    );
  }

  /**
   * Every hardware reservation of the project, all pages (GET
   * /projects/{id}/hardware-reservations). Each has its device as a
   * {@linkcode Reference} (`device.id`). Expensive for big projects:
   * one request per `pageSize` reservations, spaced by the API rate.
   */
  async listReservations(options: CallOptions = {}): Promise<HardwareReservation[]> {
    return await this.#listAll("listReservations", {
      path: `/projects/${this.projectId}/hardware-reservations`,
      schema: HardwareReservationListSchema,
      pick: (reply) => ({ items: reply.hardware_reservations, meta: reply.meta }),
      signal: options.signal,
    });
  }

  /** Hardware reservation `id`, its device (if any) included as a full {@linkcode Device}. */
  async getReservation(id: string, options: CallOptions = {}): Promise<HardwareReservation> {
    const reservationId = checkId("getReservation", "id", id);
    return await this.#transport.call(
      "getReservation",
      (http) => http.json(reservationRequest(reservationId), HardwareReservationSchema),
      options,
    );
  }

  /** The project's SSH keys (GET /projects/{id}/ssh-keys). */
  async listSSHKeys(options: CallOptions = {}): Promise<SSHKey[]> {
    return await this.#transport.call(
      "listSSHKeys",
      async (http) => (await http.json(this.#sshKeysRequest(), SSHKeyListSchema)).ssh_keys,
      options,
    );
  }

  /**
   * Creates a project SSH key, idempotent by label: each attempt first lists
   * the keys; a key with this label and the same key text is returned (one
   * key however often this is called or retried); with another key text it
   * is a conflict.
   *
   * @throws {SSHKeyLabelConflictError} the label is taken by a different key; nothing was changed.
   */
  async createSSHKey(request: SSHKeyCreateRequest, options: CallOptions = {}): Promise<SSHKey> {
    if (typeof request !== "object" || request === null) {
      throw new TypeError("Cannot createSSHKey: request must be an object");
    }
    const label = checkText("createSSHKey", "request.label", request.label);
    const key = checkText("createSSHKey", "request.key", request.key);
    const body: SSHKeyCreateRequest = { label, key, ...(request.tags === undefined ? {} : { tags: request.tags }) };
    return await this.#transport.call("createSSHKey", async (http) => {
      const { ssh_keys: keys } = await http.json(this.#sshKeysRequest(), SSHKeyListSchema);
      const existing = keys.find((k) => k.label === label);
      if (existing !== undefined) {
        if (existing.key?.trim() === key.trim()) return existing;
        throw new SSHKeyLabelConflictError(label, existing.id);
      }
      return await http.json(
        { method: "POST", path: `/projects/${this.projectId}/ssh-keys`, body },
        SSHKeySchema,
      );
    }, options);
  }

  /** Changes SSH key `id` (PUT /ssh-keys/{id}); idempotent: the same patch again changes nothing. */
  async updateSSHKey(id: string, patch: SSHKeyUpdateRequest, options: CallOptions = {}): Promise<SSHKey> {
    const keyId = checkId("updateSSHKey", "id", id);
    if (typeof patch !== "object" || patch === null) {
      throw new TypeError("Cannot updateSSHKey: patch must be an object");
    }
    const body: SSHKeyUpdateRequest = {};
    if (patch.label !== undefined) body.label = checkText("updateSSHKey", "patch.label", patch.label);
    if (patch.key !== undefined) body.key = checkText("updateSSHKey", "patch.key", patch.key);
    if (patch.tags !== undefined) body.tags = patch.tags;
    return await this.#transport.call(
      "updateSSHKey",
      (http) => http.json({ method: "PUT", path: `/ssh-keys/${keyId}`, body }, SSHKeySchema),
      options,
    );
  }

  /** Deletes SSH key `id`. A key that is already gone (404) counts as deleted, as for devices. */
  async deleteSSHKey(id: string, options: CallOptions = {}): Promise<void> {
    const keyId = checkId("deleteSSHKey", "id", id);
    await this.#transport.call(
      "deleteSSHKey",
      (http) => http.send({ method: "DELETE", path: `/ssh-keys/${keyId}`, acceptStatuses: [404] }),
      options,
    );
  }

  /**
   * Rejects the queued calls and the call in flight with
   * `ClientClosedError`, and every later call; stops the client's timers.
   * The metrics stay in the registry.
   */
  close(): void {
    this.#transport.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #sshKeysRequest(): ApiRequest {
    return { method: "GET", path: `/projects/${this.projectId}/ssh-keys` };
  }

  /** Page `page` (from 1) of the listing at `path`. */
  #pageRequest(path: string, page: number): ApiRequest {
    return { method: "GET", path, query: { page, per_page: this.#pageSize } };
  }

  /**
   * All pages of a listing, as one call. A retry goes on from the page that
   * failed. Items are keyed by id, so one that moved to a later page while
   * we listed (the API pages a live collection) is returned once.
   */
  async #listAll<R, T extends { id: string }>(
    operation: Operation,
    { path, schema, pick, signal }: {
      path: string;
      schema: z.ZodType<R>;
      /** The page's items and its `meta`. */
      pick: (reply: R) => { items: T[]; meta: Meta | undefined };
      signal: AbortSignal | undefined;
    },
  ): Promise<T[]> {
    const byId = new Map<string, T>();
    let page = 1;
    return await this.#transport.call(operation, async (http) => {
      for (;;) {
        const { items, meta } = pick(await http.json(this.#pageRequest(path, page), schema));
        for (const item of items) byId.set(item.id, item);
        if (!hasNextPage(meta, page, items.length)) return [...byId.values()];
        page++;
      }
    }, { signal });
  }
}

/** GET a hardware reservation with its device included. */
function reservationRequest(reservationId: string): ApiRequest {
  return { method: "GET", path: `/hardware-reservations/${reservationId}`, query: { include: "device" } };
}

/**
 * The device on reservation `reservationId`, if it carries our witness tag:
 * the included device, or, when the API gave only a reference, the device
 * read by its id.
 * @throws {RaceLostError} it does not carry our tag (or has no id to read it by).
 */
async function ownDevice(
  http: Http,
  reservationId: string,
  { device: onReservation, witness }: { device: Device | Reference; witness: string },
): Promise<Device> {
  let device: Device;
  if ("state" in onReservation) {
    device = onReservation;
  } else if (onReservation.id !== undefined) {
    device = await http.json({ method: "GET", path: `/devices/${onReservation.id}` }, DeviceSchema);
  } else {
    // A device we can neither read nor name: we cannot show it is ours, and must not create another.
    throw new RaceLostError(reservationId, undefined);
  }
  if (!device.tags?.includes(witness)) throw new RaceLostError(reservationId, device.id);
  return device;
}

/** Whether a listing goes on after `page`, which held `count` items. */
function hasNextPage(meta: Meta | undefined, page: number, count: number): boolean {
  if (count === 0 || page >= MAX_PAGE) return false;
  if (meta?.last_page !== undefined) return page < meta.last_page;
  return meta?.next?.href !== undefined;
}
