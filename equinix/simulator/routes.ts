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

/** One served operation. */
export interface Route {
  readonly operationId: OperationId;
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** As in the OpenAPI file, e.g. "/devices/{id}". */
  readonly pathTemplate: string;
}

/** The operationIds the simulator serves (the OpenAPI file's names). */
export const OPERATION_IDS = [
  "findProjects",
  "findProjectById",
  "findProjectDevices",
  "createDevice",
  "findDeviceById",
  "deleteDevice",
  "performAction",
  "findProjectHardwareReservations",
  "findHardwareReservationById",
  "findProjectSSHKeys",
  "createProjectSSHKey",
  "findSSHKeyById",
  "updateSSHKey",
  "deleteSSHKey",
] as const;
export type OperationId = typeof OPERATION_IDS[number];

export const ROUTES: readonly Route[] = [
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
];

/** True for the id of an operation the simulator serves. */
export function isOperationId(value: string): value is OperationId {
  return (OPERATION_IDS as readonly string[]).includes(value);
}

/** The route's path in Hono's syntax under the API base: "/devices/{id}" → "/metal/v1/devices/:id". */
export function honoPath(route: Route): string {
  return API_BASE_PATH + route.pathTemplate.replace(/\{(\w+)\}/g, ":$1");
}
