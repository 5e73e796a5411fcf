/**
 * The parts of Redfish replies the client reads, as zod schemas (DMTF
 * ServiceRoot, collections, ComputerSystem, ActionInfo, Task, the error
 * body). They are lenient on purpose: real BMCs omit properties, send `null`,
 * and add OEM ones; only what the client needs is required, and unknown
 * enum values are kept as strings for the caller to judge.
 *
 * @module
 */
import { z } from "zod";

const Link = z.object({ "@odata.id": z.string() });

/** The service root, `/redfish/v1/` (read without credentials). */
export const ServiceRootSchema = z.object({
  Systems: Link.optional(),
  SessionService: Link.optional(),
  Links: z.object({ Sessions: Link.optional() }).optional(),
});

/** Any resource collection (Systems, Sessions). */
export const CollectionSchema = z.object({ Members: z.array(Link) });

const ResetAction = z.object({
  target: z.string().optional(),
  "ResetType@Redfish.AllowableValues": z.array(z.string()).nullish(),
  "@Redfish.ActionInfo": z.string().nullish(),
});

/** A ComputerSystem, the parts power control needs. */
export const ComputerSystemSchema = z.object({
  "@odata.id": z.string().optional(),
  PowerState: z.string().nullish(),
  Status: z.object({ Health: z.string().nullish(), State: z.string().nullish() }).nullish(),
  LastResetTime: z.string().nullish(),
  Actions: z.object({ "#ComputerSystem.Reset": ResetAction.optional() }).nullish(),
});

/** An ActionInfo resource: the parameters of an action, with their allowable values. */
export const ActionInfoSchema = z.object({
  Parameters: z.array(z.object({ Name: z.string(), AllowableValues: z.array(z.string()).nullish() })).nullish(),
});

const Message = z.object({ MessageId: z.string().nullish(), Message: z.string().nullish() });

/** A Task (what a task monitor answers once the task ended, and some BMCs while it runs). */
export const TaskSchema = z.object({
  TaskState: z.string().nullish(),
  TaskStatus: z.string().nullish(),
  Messages: z.array(Message).nullish(),
});

/** The Redfish error body (`redfish-error.v1_0_2.json`). */
export const ErrorBodySchema = z.object({
  error: z.object({
    code: z.string().nullish(),
    message: z.string().nullish(),
    "@Message.ExtendedInfo": z.array(Message).nullish(),
  }),
});

/** A session's creation reply body (the token comes in the `X-Auth-Token` header). */
export const SessionSchema = z.object({ "@odata.id": z.string().optional() });

export type ComputerSystem = z.infer<typeof ComputerSystemSchema>;
export type Task = z.infer<typeof TaskSchema>;
