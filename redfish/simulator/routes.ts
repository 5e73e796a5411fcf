/**
 * The Redfish URIs a BMC serves: one table, with each URI's methods, which
 * of them need no authentication, and whether the URI exists only with a
 * SessionService. The app mounts these and nothing else (any other URI is
 * 404, any other method 405).
 *
 * @module
 */
import type { Bmc } from "./bmc.ts";
import type { Handler, Reply } from "./handler.ts";
import { redfishError } from "./redfish_error.ts";
import { resetSystem, systemOr404, taskMonitor } from "./reset_action.ts";
import {
  computerSystem,
  manager,
  managerCollection,
  serviceRoot,
  sessionService,
  systemCollection,
  task,
  taskCollection,
  taskService,
} from "./resources.ts";
import { createSession, deleteSession, getSession, listSessions } from "./session_handlers.ts";

/** The methods the simulator serves (HEAD is served as GET). */
export type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

/** One URI. */
export interface Route {
  /** In Hono's syntax, e.g. "/redfish/v1/Systems/:id". */
  path: string;
  methods: Partial<Record<Method, Handler>>;
  /** Methods served without authentication. */
  public?: readonly Method[];
  /** The URI exists only when the BMC has a SessionService (auth "session"). */
  sessionsOnly?: boolean;
}

/** Every URI served. */
export const ROUTES: readonly Route[] = [
  { path: "/redfish", methods: { GET: () => ok({ v1: "/redfish/v1/" }) }, public: ["GET"] },
  { path: "/redfish/v1", methods: { GET: (bmc) => ok(serviceRoot(bmc)) }, public: ["GET"] },
  { path: "/redfish/v1/Systems", methods: { GET: (bmc) => ok(systemCollection(bmc)) } },
  {
    path: "/redfish/v1/Systems/:id",
    methods: { GET: (bmc, request) => ok(computerSystem(systemOr404(bmc, request.params.id))) },
  },
  { path: "/redfish/v1/Systems/:id/Actions/ComputerSystem.Reset", methods: { POST: resetSystem } },
  { path: "/redfish/v1/SessionService", methods: { GET: (bmc) => ok(sessionService(bmc)) }, sessionsOnly: true },
  {
    path: "/redfish/v1/SessionService/Sessions",
    methods: { GET: listSessions, POST: createSession },
    public: ["POST"],
    sessionsOnly: true,
  },
  {
    path: "/redfish/v1/SessionService/Sessions/:id",
    methods: { GET: getSession, DELETE: deleteSession },
    sessionsOnly: true,
  },
  { path: "/redfish/v1/TaskService", methods: { GET: () => ok(taskService()) } },
  { path: "/redfish/v1/TaskService/Tasks", methods: { GET: (bmc) => ok(taskCollection(bmc.tasks.list())) } },
  { path: "/redfish/v1/TaskService/Tasks/:id", methods: { GET: getTask } },
  { path: "/redfish/v1/TaskService/TaskMonitors/:id", methods: { GET: taskMonitor } },
  { path: "/redfish/v1/Managers", methods: { GET: () => ok(managerCollection()) } },
  { path: "/redfish/v1/Managers/BMC", methods: { GET: (bmc) => ok(manager(bmc)) } },
];

/** The route as this BMC serves it: undefined when it has no such URI (a sessions route without sessions). */
export function servedRoute(bmc: Bmc, route: Route | undefined): Route | undefined {
  return route && (!route.sessionsOnly || bmc.sessions !== undefined) ? route : undefined;
}

/** The `Allow` header of a route. */
export function allowHeader(route: Route): string {
  const methods = Object.keys(route.methods);
  return (methods.includes("GET") ? [...methods, "HEAD"] : methods).join(", ");
}

function getTask(bmc: Bmc, request: { params: Record<string, string> }): Reply {
  const found = bmc.tasks.get(request.params.id);
  if (!found) throw redfishError(404, "ResourceNotFound", { args: ["Task", request.params.id] });
  return ok(task(found));
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}
