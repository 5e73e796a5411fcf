/**
 * The messages of DMTF's Base message registry (Base.1.19) that the
 * simulator sends, as `Message` objects (`#Message.v1_3_0.Message`) for
 * `@Message.ExtendedInfo`.
 *
 * @module
 */

/** The registry the MessageIds name: "Base.1.19.ResourceNotFound". */
export const BASE_REGISTRY = "Base.1.19";

/** A registry entry: its text with `%1`… for the arguments, severity and resolution. */
interface MessageDefinition {
  message: string;
  severity: "OK" | "Warning" | "Critical";
  resolution: string;
}

const BASE_MESSAGES = {
  Success: { message: "The request completed successfully.", severity: "OK", resolution: "None." },
  Created: { message: "The resource was created successfully.", severity: "OK", resolution: "None." },
  GeneralError: {
    message:
      "A general error has occurred.  See Resolution for information on how to resolve the error, or @Message.ExtendedInfo if Resolution is not provided.",
    severity: "Critical",
    resolution: "None.",
  },
  ResourceNotFound: {
    message: "The requested resource of type %1 named '%2' was not found.",
    severity: "Critical",
    resolution: "Provide a valid resource identifier and resubmit the request.",
  },
  OperationNotAllowed: {
    message: "The HTTP method is not allowed on this resource.",
    severity: "Critical",
    resolution: "None.",
  },
  MalformedJSON: {
    message: "The request body submitted was malformed JSON and could not be parsed by the receiving service.",
    severity: "Critical",
    resolution: "Ensure that the request body is valid JSON and resubmit the request.",
  },
  ActionParameterMissing: {
    message: "The action %1 requires the parameter %2 to be present in the request body.",
    severity: "Critical",
    resolution: "Supply the action with the required parameter in the request body when the request is resubmitted.",
  },
  ActionParameterValueNotInList: {
    message: "The value '%1' for the parameter %2 in the action %3 is not in the list of acceptable values.",
    severity: "Warning",
    resolution:
      "Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.",
  },
  ActionParameterValueTypeError: {
    message: "The value '%1' for the parameter %2 in the action %3 is not a type that the parameter can accept.",
    severity: "Warning",
    resolution:
      "Correct the value for the parameter in the request body and resubmit the request if the operation failed.",
  },
  ActionParameterValueConflict: {
    message: "The parameter '%1' with the requested value of '%2' does not meet the constraints of the implementation.",
    severity: "Warning",
    resolution: "None.",
  },
  PropertyMissing: {
    message: "The property %1 is a required property and must be included in the request.",
    severity: "Warning",
    resolution:
      "Ensure that the property is in the request body and has a valid value and resubmit the request if the operation failed.",
  },
  PropertyValueTypeError: {
    message: "The value '%1' for the property %2 is not a type that the property can accept.",
    severity: "Warning",
    resolution:
      "Correct the value for the property in the request body and resubmit the request if the operation failed.",
  },
  NoValidSession: {
    message: "There is no valid session established with the implementation.",
    severity: "Critical",
    resolution: "Establish a session before attempting any operations.",
  },
  ResourceAtUriUnauthorized: {
    message: "While accessing the resource at '%1', the service received an authorization error '%2'.",
    severity: "Critical",
    resolution: "Ensure that the appropriate access is provided for the service in order for it to access the URI.",
  },
  SessionLimitExceeded: {
    message:
      "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.",
    severity: "Critical",
    resolution:
      "Reduce the number of other sessions before trying to establish the session or increase the limit of simultaneous sessions, if supported.",
  },
  InternalError: {
    message: "The request failed due to an internal service error.  The service is still operational.",
    severity: "Critical",
    resolution: "Resubmit the request.  If the problem persists, consider resetting the service.",
  },
  ServiceTemporarilyUnavailable: {
    message: "The service is temporarily unavailable.  Retry in %1 seconds.",
    severity: "Critical",
    resolution: "Wait for the indicated retry duration and retry the operation.",
  },
} as const satisfies Record<string, MessageDefinition>;

/** A message key of the Base registry that the simulator sends. */
export type BaseMessageKey = keyof typeof BASE_MESSAGES;

/** A Redfish `Message`, as in `@Message.ExtendedInfo`. */
export interface RedfishMessage {
  "@odata.type": "#Message.v1_3_0.Message";
  MessageId: string;
  Message: string;
  MessageArgs?: string[];
  /** Deprecated in favour of MessageSeverity, still read by many clients. */
  Severity: "OK" | "Warning" | "Critical";
  MessageSeverity: "OK" | "Warning" | "Critical";
  Resolution: string;
}

/** The Base message `key` with `args` filled in for `%1`, `%2`, …. */
export function baseMessage(key: BaseMessageKey, args: readonly string[] = []): RedfishMessage {
  const definition: MessageDefinition = BASE_MESSAGES[key];
  const message = definition.message.replace(/%(\d+)/g, (_, n: string) => args[Number(n) - 1] ?? `%${n}`);
  return {
    "@odata.type": "#Message.v1_3_0.Message",
    MessageId: `${BASE_REGISTRY}.${key}`,
    Message: message,
    ...(args.length > 0 ? { MessageArgs: [...args] } : {}),
    Severity: definition.severity,
    MessageSeverity: definition.severity,
    Resolution: definition.resolution,
  };
}
