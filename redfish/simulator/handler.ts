/**
 * What a route handler gets and gives: the request as read (path
 * parameters, body text, caller) and the {@link Reply} the app sends.
 * Handlers refuse by throwing a `RedfishError`.
 *
 * @module
 */
import type { Caller } from "./auth.ts";
import type { Bmc } from "./bmc.ts";
import { redfishError } from "./redfish_error.ts";

/** A request as a handler sees it. */
export interface HandlerRequest {
  /** The route's path parameters, e.g. `{ id: "1" }`. */
  params: Record<string, string>;
  /** The request's path, e.g. "/redfish/v1/Systems/1". */
  path: string;
  headers: Headers;
  /** The body as sent ("" when none). */
  bodyText: string;
  /** Undefined on the routes that need no authentication. */
  caller: Caller | undefined;
}

/** A reply: status, JSON body (none for 204), extra headers. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Serves one method of one route. */
export type Handler = (bmc: Bmc, request: HandlerRequest) => Reply;

/**
 * The request body as a JSON object.
 * @throws {RedfishError} 400 MalformedJSON when it is not JSON, or not an object
 */
export function jsonObjectBody(request: HandlerRequest): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(request.bodyText);
  } catch {
    throw redfishError(400, "MalformedJSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw redfishError(400, "MalformedJSON");
  return body as Record<string, unknown>;
}
