/**
 * What each served operation does, given an authenticated request that no
 * fault intercepted: read or change the state and say what to reply. Refusals
 * are thrown as `ApiError`s; the server turns them into error replies.
 *
 * Path ids that are not UUIDs are answered 404 like unknown ones (the real
 * API does the same for a malformed id in the path): no record has such an id.
 *
 * @module
 */
import { notFound, unprocessable } from "./api_error.ts";
import { pageRequest, paginate } from "./pagination.ts";
import { includes, type Renderer } from "./render.ts";
import { deviceAction, deviceCreation, sshKeyCreation, sshKeyUpdate } from "./requests.ts";
import type { OperationId } from "./routes.ts";
import type { SSHKeyStore } from "./ssh_keys.ts";
import type { ProviderState } from "./state.ts";

/** An API request as a handler sees it. */
export interface ApiRequest {
  /** Path parameters by name, e.g. { id: "…" }. */
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  /** The request's path, e.g. "/metal/v1/projects/…/devices" (list replies link to it). */
  path: string;
  /**
   * The parsed JSON body; undefined when there was none. Handlers read it
   * after checking the path, so an unknown id is 404 even with a bad body.
   * @throws {ApiError} 422 for malformed JSON
   */
  json(): unknown;
}

/** What to answer: a status and a JSON body (none for 202 and 204). */
export interface ApiReply {
  status: number;
  body?: unknown;
}

export type OperationHandler = (request: ApiRequest) => ApiReply;

/** The handlers of every served operation, over one simulator's state. */
export function operationHandlers(
  { state, keys, renderer }: { state: ProviderState; keys: SSHKeyStore; renderer: Renderer },
): Record<OperationId, OperationHandler> {
  /** The project in the path; 404 unless it is the simulator's. */
  const ownProject = (request: ApiRequest) => {
    if (request.params.id !== state.projectId) throw notFound();
  };
  const device = (request: ApiRequest) => {
    const found = state.device(request.params.id);
    if (!found) throw notFound();
    return found;
  };
  const include = (request: ApiRequest) => includes(request.query.getAll("include"));

  return {
    findProjects: (request) => {
      const { items, meta } = paginate([renderer.project()], pageRequest(request.query), request);
      return { status: 200, body: { projects: items, meta } };
    },
    findProjectById: (request) => {
      ownProject(request);
      return { status: 200, body: renderer.project() };
    },
    findProjectDevices: (request) => {
      ownProject(request);
      const page = pageRequest(request.query);
      const { tag, hostname, metro } = Object.fromEntries(request.query);
      const devices = state.devices().filter((d) =>
        (tag === undefined || d.tags.includes(tag)) &&
        (hostname === undefined || d.hostname.includes(hostname)) &&
        (metro === undefined || d.metro === metro)
      );
      const { items, meta } = paginate(devices, page, request);
      const expand = include(request);
      return { status: 200, body: { devices: items.map((d) => renderer.device(d, expand)), meta } };
    },
    createDevice: (request) => {
      ownProject(request);
      const created = state.createDevice(deviceCreation(request.json()));
      return { status: 201, body: renderer.device(created, include(request)) };
    },
    findDeviceById: (request) => ({ status: 200, body: renderer.device(device(request), include(request)) }),
    deleteDevice: (request) => {
      state.deleteDevice(request.params.id);
      return { status: 204 };
    },
    performAction: (request) => {
      const { id } = device(request);
      state.performAction(id, deviceAction(request.json()));
      return { status: 202 };
    },
    findProjectHardwareReservations: (request) => {
      ownProject(request);
      const page = pageRequest(request.query);
      const provisionable = request.query.get("provisionable");
      if (provisionable !== null && provisionable !== "only") {
        throw unprocessable(`provisionable: must be "only", got "${provisionable}"`);
      }
      const reservations = state.reservations().filter((r) => provisionable === null || state.provisionable(r));
      const { items, meta } = paginate(reservations, page, request);
      const expand = include(request);
      return {
        status: 200,
        body: { hardware_reservations: items.map((r) => renderer.reservation(r, expand)), meta },
      };
    },
    findHardwareReservationById: (request) => {
      const reservation = state.reservation(request.params.id);
      if (!reservation) throw notFound();
      return { status: 200, body: renderer.reservation(reservation, include(request)) };
    },
    findProjectSSHKeys: (request) => {
      ownProject(request);
      return { status: 200, body: { ssh_keys: keys.list(state.projectId).map((k) => renderer.sshKey(k)) } };
    },
    createProjectSSHKey: (request) => {
      ownProject(request);
      const created = keys.create(state.projectId, sshKeyCreation(request.json()));
      return { status: 201, body: renderer.sshKey(created) };
    },
    findSSHKeyById: (request) => ({ status: 200, body: renderer.sshKey(keys.get(request.params.id)) }),
    updateSSHKey: (request) => {
      const key = keys.get(request.params.id); // before the body: an unknown key is 404 even when the body is bad too
      return { status: 200, body: renderer.sshKey(keys.update(key, sshKeyUpdate(request.json()))) };
    },
    deleteSSHKey: (request) => {
      keys.delete(request.params.id);
      return { status: 204 };
    },
  };
}
