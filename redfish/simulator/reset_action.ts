/**
 * `POST /redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset` and the task
 * monitor a 202 reply points at.
 *
 * @module
 */
import { baseMessage } from "./base_messages.ts";
import type { Bmc } from "./bmc.ts";
import type { ResetType } from "./config.ts";
import { type Handler, jsonObjectBody } from "./handler.ts";
import { RedfishError, redfishError } from "./redfish_error.ts";
import { task } from "./resources.ts";
import type { System } from "./system.ts";
import { taskMonitorPath } from "./tasks.ts";

const ACTION = "ComputerSystem.Reset";

/**
 * Resets a system. Refuses (400) a missing ResetType (ActionParameterMissing),
 * one that is not a string (ActionParameterValueTypeError) and one not in
 * the system's `ResetType@Redfish.AllowableValues` (ActionParameterValueNotInList,
 * whose Resolution lists them); with `redundantReset: "conflict"`, On when on
 * or ForceOff when off answers 409. Otherwise answers as `resetReply` says.
 */
export const resetSystem: Handler = (bmc, request) => {
  const system = systemOr404(bmc, request.params.id);
  const body = jsonObjectBody(request);
  const value = body.ResetType;
  if (value === undefined) throw redfishError(400, "ActionParameterMissing", { args: [ACTION, "ResetType"] });
  if (typeof value !== "string") {
    throw redfishError(400, "ActionParameterValueTypeError", { args: [JSON.stringify(value), "ResetType", ACTION] });
  }
  const allowed: readonly string[] = system.config.resetTypes;
  if (!allowed.includes(value)) {
    const message = baseMessage("ActionParameterValueNotInList", [value, "ResetType", ACTION]);
    message.Resolution = `Choose one of the ResetType@Redfish.AllowableValues (${allowed.join(", ")}) ` +
      "and resubmit the request.";
    throw new RedfishError(400, [message]);
  }
  const resetType = value as ResetType;
  const outcome = system.reset(resetType);
  if (outcome.effect === "conflict") {
    const message = baseMessage("ActionParameterValueConflict", ["ResetType", resetType]);
    message.Resolution = `The system is already ${system.powerState}: nothing to do.`;
    throw new RedfishError(409, [message]);
  }
  switch (system.config.resetReply) {
    case "204":
      return { status: 204 };
    case "200":
      return { status: 200, body: { "@Message.ExtendedInfo": [baseMessage("Success")] } };
    case "202": {
      const started = bmc.tasks.start({
        systemId: system.id,
        resetType,
        expectedMs: outcome.expectedMs,
        settled: outcome.settled,
      });
      return { status: 202, headers: { Location: taskMonitorPath(started.id) }, body: task(started) };
    }
  }
};

/** A task monitor: 202 with the Task while the transition runs, then 204 (the Reset's own reply). */
export const taskMonitor: Handler = (bmc, request) => {
  const found = bmc.tasks.get(request.params.id);
  if (!found) throw redfishError(404, "ResourceNotFound", { args: ["TaskMonitor", request.params.id] });
  if (found.endedAt !== undefined) return { status: 204 };
  return { status: 202, headers: { Location: taskMonitorPath(found.id) }, body: task(found) };
};

/**
 * The system with this id.
 * @throws {RedfishError} 404 ResourceNotFound when the BMC has none
 */
export function systemOr404(bmc: Bmc, id: string): System {
  const system = bmc.system(id);
  if (!system) throw redfishError(404, "ResourceNotFound", { args: ["ComputerSystem", id] });
  return system;
}
