/**
 * The Metal API operations the simulator serves: one table, with each
 * operation's id, method and path as in the OpenAPI file. The server mounts
 * these and nothing else, so an exchange's `operationId` and `pathTemplate`
 * always come from here.
 *
 * @module
 */

/** The API's base path; `pathTemplate`s are relative to it. */
export const API_BASE_PATH = "/metal/v1";

/** The served operations (operationIds as in the OpenAPI file). */
export const ROUTES = [
  { operationId: "findProjects", method: "GET", pathTemplate: "/projects" },
  { operationId: "findProjectById", method: "GET", pathTemplate: "/projects/{id}" },
  { operationId: "findProjectDevices", method: "GET", pathTemplate: "/projects/{id}/devices" },
  { operationId: "createDevice", method: "POST", pathTemplate: "/projects/{id}/devices" },
  { operationId: "findDeviceById", method: "GET", pathTemplate: "/devices/{id}" },
  { operationId: "deleteDevice", method: "DELETE", pathTemplate: "/devices/{id}" },
  { operationId: "performAction", method: "POST", pathTemplate: "/devices/{id}/actions" },
  {
    operationId: "findProjectHardwareReservations",
    method: "GET",
    pathTemplate: "/projects/{id}/hardware-reservations",
  },
  { operationId: "findHardwareReservationById", method: "GET", pathTemplate: "/hardware-reservations/{id}" },
  { operationId: "findProjectSSHKeys", method: "GET", pathTemplate: "/projects/{id}/ssh-keys" },
  { operationId: "createProjectSSHKey", method: "POST", pathTemplate: "/projects/{id}/ssh-keys" },
  { operationId: "findSSHKeyById", method: "GET", pathTemplate: "/ssh-keys/{id}" },
  { operationId: "updateSSHKey", method: "PUT", pathTemplate: "/ssh-keys/{id}" },
  { operationId: "deleteSSHKey", method: "DELETE", pathTemplate: "/ssh-keys/{id}" },
] as const satisfies readonly {
  operationId: string;
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** As in the OpenAPI file, e.g. "/devices/{id}". */
  pathTemplate: string;
}[];

/** One served operation. */
export type Route = typeof ROUTES[number];
export type OperationId = Route["operationId"];

/** The operationIds the simulator serves, in {@link ROUTES} order. */
export const OPERATION_IDS: readonly OperationId[] = ROUTES.map((route) => route.operationId);

/** True for the id of an operation the simulator serves. */
export function isOperationId(value: string): value is OperationId {
  return (OPERATION_IDS as readonly string[]).includes(value);
}

/** The route's path in Hono's syntax under the API base: "/devices/{id}" → "/metal/v1/devices/:id". */
export function honoPath(route: Route): string {
  return API_BASE_PATH + route.pathTemplate.replace(/\{(\w+)\}/g, ":$1");
}

/** The API path of an object, e.g. "/metal/v1/devices/<id>". */
export function href(collection: "devices" | "hardware-reservations" | "projects" | "ssh-keys", id: string): string {
  return `${API_BASE_PATH}/${collection}/${id}`;
}
