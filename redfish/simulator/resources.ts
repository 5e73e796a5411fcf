/**
 * The Redfish resources a BMC serves, as JSON bodies modelled on DMTF's
 * public-rackmount1 mockup (`redfish/reference/mockup-rackmount1/`), with
 * the schema versions of `redfish/reference/json-schema/`.
 *
 * @module
 */
import type { Bmc } from "./bmc.ts";
import type { Session } from "./sessions.ts";
import type { System } from "./system.ts";
import { type Task, taskMonitorPath, taskPath } from "./tasks.ts";

/** The Redfish protocol version the service root claims. */
export const REDFISH_VERSION = "1.20.0";

/** The URIs of the resources (a system's is `System.path`; sessions' and tasks' are by id). */
export const SERVICE_ROOT_PATH = "/redfish/v1/";
export const SYSTEMS_PATH = "/redfish/v1/Systems";
export const SESSION_SERVICE_PATH = "/redfish/v1/SessionService";
export const SESSIONS_PATH = "/redfish/v1/SessionService/Sessions";
export const TASK_SERVICE_PATH = "/redfish/v1/TaskService";
export const TASKS_PATH = "/redfish/v1/TaskService/Tasks";
export const MANAGERS_PATH = "/redfish/v1/Managers";
export const MANAGER_PATH = "/redfish/v1/Managers/BMC";

/** A JSON object body. */
export type Resource = Record<string, unknown>;

const ENABLED_OK = { State: "Enabled", Health: "OK" };

/** `/redfish/v1/`: unauthenticated; names the services, and the sessions when auth is "session". */
export function serviceRoot(bmc: Bmc): Resource {
  const sessions = bmc.sessions !== undefined;
  return {
    "@odata.type": "#ServiceRoot.v1_20_0.ServiceRoot",
    "@odata.id": SERVICE_ROOT_PATH,
    Id: "RootService",
    Name: "Root Service",
    RedfishVersion: REDFISH_VERSION,
    UUID: bmc.uuid,
    Vendor: "Drover",
    Product: "Redfish BMC simulator",
    Systems: link(SYSTEMS_PATH),
    Managers: link(MANAGERS_PATH),
    Tasks: link(TASK_SERVICE_PATH),
    ...(sessions ? { SessionService: link(SESSION_SERVICE_PATH) } : {}),
    // ServiceRoot's schema requires Links.Sessions; a BMC without sessions has none to link (see the conformance test).
    Links: sessions ? { Sessions: link(SESSIONS_PATH) } : {},
  };
}

/** `/redfish/v1/Systems`. */
export function systemCollection(bmc: Bmc): Resource {
  return collection(
    "#ComputerSystemCollection.ComputerSystemCollection",
    SYSTEMS_PATH,
    "Computer System Collection",
    bmc.systems.map((s) => s.path),
  );
}

/** A ComputerSystem: power, status, the Reset action and what it allows. */
export function computerSystem(system: System): Resource {
  const state = system.powerState === "On"
    ? "Enabled"
    : system.powerState === "PoweringOn"
    ? "Starting"
    : "StandbyOffline";
  return {
    "@odata.type": "#ComputerSystem.v1_27_0.ComputerSystem",
    "@odata.id": system.path,
    Id: system.id,
    Name: `Simulated system ${system.id}`,
    SystemType: "Physical",
    Manufacturer: "Drover",
    Model: "Simulated rack server",
    SerialNumber: `SIM-${system.id}`,
    UUID: system.uuid,
    PowerState: system.powerState,
    Status: { State: state, Health: system.health },
    ...(system.config.reportsLastResetTime ? { LastResetTime: isoTime(system.lastResetTime) } : {}),
    Links: { ManagedBy: [link(MANAGER_PATH)] },
    Actions: {
      "#ComputerSystem.Reset": {
        target: resetTarget(system),
        "ResetType@Redfish.AllowableValues": [...system.config.resetTypes],
      },
    },
  };
}

/** The URI a Reset is POSTed to. */
export function resetTarget(system: { path: string }): string {
  return `${system.path}/Actions/ComputerSystem.Reset`;
}

/** `/redfish/v1/SessionService` (only with auth "session"). */
export function sessionService(bmc: Bmc): Resource {
  return {
    "@odata.type": "#SessionService.v1_2_0.SessionService",
    "@odata.id": SESSION_SERVICE_PATH,
    Id: "SessionService",
    Name: "Session Service",
    Status: ENABLED_OK,
    ServiceEnabled: true,
    // The schema asks for whole seconds; a test may set a fraction.
    SessionTimeout: Math.ceil(bmc.config.sessionTimeoutSeconds),
    Sessions: link(SESSIONS_PATH),
  };
}

/** `/redfish/v1/SessionService/Sessions`: the live sessions. */
export function sessionCollection(sessions: readonly Session[]): Resource {
  return collection(
    "#SessionCollection.SessionCollection",
    SESSIONS_PATH,
    "Session Collection",
    sessions.map((s) => sessionPath(s.id)),
  );
}

/** A session, without its token or password. */
export function session(session: Session, expiresAt: Date): Resource {
  return {
    "@odata.type": "#Session.v1_8_0.Session",
    "@odata.id": sessionPath(session.id),
    Id: session.id,
    Name: "User Session",
    UserName: session.userName,
    SessionType: "Redfish",
    CreatedTime: isoTime(session.createdAt),
    ExpirationTime: isoTime(expiresAt),
  };
}

/** A session's URI (the `Location` of its 201). */
export function sessionPath(id: string): string {
  return `${SESSIONS_PATH}/${id}`;
}

/** `/redfish/v1/TaskService`. */
export function taskService(): Resource {
  return {
    "@odata.type": "#TaskService.v1_3_0.TaskService",
    "@odata.id": TASK_SERVICE_PATH,
    Id: "TaskService",
    Name: "Task Service",
    DateTime: isoTime(new Date()),
    CompletedTaskOverWritePolicy: "Oldest",
    LifeCycleEventOnTaskStateChange: false,
    Status: ENABLED_OK,
    ServiceEnabled: true,
    Tasks: link(TASKS_PATH),
  };
}

/** `/redfish/v1/TaskService/Tasks`: the tasks kept. */
export function taskCollection(tasks: readonly Task[]): Resource {
  return collection("#TaskCollection.TaskCollection", TASKS_PATH, "Task Collection", tasks.map((t) => taskPath(t.id)));
}

/** A task: Running until its transition is over, then Completed (or Cancelled when another change cut it short). */
export function task(task: Task): Resource {
  const elapsedMs = Date.now() - task.startedAt.getTime();
  const running = task.endedAt === undefined;
  const percent = running
    ? Math.min(99, task.expectedMs > 0 ? Math.floor((100 * elapsedMs) / task.expectedMs) : 0)
    : 100;
  const interrupted = task.end === "interrupted";
  return {
    "@odata.type": "#Task.v1_7_4.Task",
    "@odata.id": taskPath(task.id),
    Id: task.id,
    Name: `Task ${task.id}`,
    Description: `ComputerSystem.Reset (${task.resetType}) of system ${task.systemId}`,
    TaskState: running ? "Running" : interrupted ? "Cancelled" : "Completed",
    TaskStatus: interrupted ? "Warning" : "OK",
    StartTime: isoTime(task.startedAt),
    ...(task.endedAt ? { EndTime: isoTime(task.endedAt) } : {}),
    PercentComplete: percent,
    TaskMonitor: taskMonitorPath(task.id),
    Messages: [],
  };
}

/** `/redfish/v1/Managers`: the BMC alone. */
export function managerCollection(): Resource {
  return collection("#ManagerCollection.ManagerCollection", MANAGERS_PATH, "Manager Collection", [MANAGER_PATH]);
}

/** The BMC itself. */
export function manager(bmc: Bmc): Resource {
  return {
    "@odata.type": "#Manager.v1_24_0.Manager",
    "@odata.id": MANAGER_PATH,
    Id: "BMC",
    Name: "Manager",
    ManagerType: "BMC",
    Description: "Simulated BMC",
    UUID: bmc.managerUuid,
    ServiceEntryPointUUID: bmc.uuid,
    Model: "Drover BMC simulator",
    FirmwareVersion: "1.0.0",
    DateTime: isoTime(new Date()),
    Status: ENABLED_OK,
    PowerState: "On",
    Links: { ManagerForServers: bmc.systems.map((s) => link(s.path)) },
  };
}

function collection(odataType: string, path: string, name: string, members: readonly string[]): Resource {
  return {
    "@odata.type": odataType,
    "@odata.id": path,
    Name: name,
    "Members@odata.count": members.length,
    Members: members.map(link),
  };
}

function link(path: string): { "@odata.id": string } {
  return { "@odata.id": path };
}

/** ISO 8601 in UTC with milliseconds (Redfish date-time): LastResetTime tells resets apart within a second. */
function isoTime(date: Date): string {
  return date.toISOString();
}
