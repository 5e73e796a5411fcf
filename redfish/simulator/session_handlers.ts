/**
 * The SessionService's sessions over HTTP: create (POST, unauthenticated,
 * with UserName and Password), read, list, delete.
 *
 * @module
 */
import type { Bmc } from "./bmc.ts";
import { type Handler, jsonObjectBody } from "./handler.ts";
import { redfishError } from "./redfish_error.ts";
import { session, sessionCollection, sessionPath, SESSIONS_PATH } from "./resources.ts";
import type { Session, SessionStore } from "./sessions.ts";

/**
 * Creates a session: 201 with `X-Auth-Token`, `Location` and the Session.
 * Refuses a missing UserName or Password (400 PropertyMissing), one that is
 * not a string (400 PropertyValueTypeError), wrong credentials (401
 * ResourceAtUriUnauthorized) and a session beyond `maxSessions` (503
 * SessionLimitExceeded).
 */
export const createSession: Handler = (bmc, request) => {
  const sessions = sessionStore(bmc);
  const body = jsonObjectBody(request);
  for (const property of ["UserName", "Password"]) {
    if (body[property] === undefined) throw redfishError(400, "PropertyMissing", { args: [property] });
    if (typeof body[property] !== "string") {
      throw redfishError(400, "PropertyValueTypeError", { args: [JSON.stringify(body[property]), property] });
    }
  }
  if (!bmc.checkCredentials(body.UserName, body.Password)) {
    throw redfishError(401, "ResourceAtUriUnauthorized", { args: [SESSIONS_PATH, "Invalid user name or password"] });
  }
  const created = sessions.create(body.UserName as string);
  if (!created) throw redfishError(503, "SessionLimitExceeded");
  return {
    status: 201,
    headers: { "X-Auth-Token": created.token, Location: sessionPath(created.id) },
    body: session(created, sessions.expiresAt(created)),
  };
};

/** The live sessions. */
export const listSessions: Handler = (bmc) => ({ status: 200, body: sessionCollection(sessionStore(bmc).list()) });

/** One live session (404 when it ended or expired). */
export const getSession: Handler = (bmc, request) => {
  const sessions = sessionStore(bmc);
  const found = sessionOr404(sessions, request.params.id);
  return { status: 200, body: session(found, sessions.expiresAt(found)) };
};

/** Ends a session (any authenticated caller may end any session, as on most BMCs): 204. */
export const deleteSession: Handler = (bmc, request) => {
  const sessions = sessionStore(bmc);
  sessions.delete(sessionOr404(sessions, request.params.id).id);
  return { status: 204 };
};

/** The store; the routes mount these handlers only when there is one. */
function sessionStore(bmc: Bmc): SessionStore {
  if (!bmc.sessions) throw redfishError(404, "ResourceNotFound", { args: ["SessionService", "SessionService"] });
  return bmc.sessions;
}

function sessionOr404(sessions: SessionStore, id: string): Session {
  const found = sessions.get(id);
  if (!found) throw redfishError(404, "ResourceNotFound", { args: ["Session", id] });
  return found;
}
