/**
 * How one client authenticates to its BMC: a Redfish session (one, kept and
 * reused for every request) where the service root offers one, else HTTP
 * basic. This file holds the state and reads the BMC's replies; the
 * transport does the requests, one at a time, so two sessions are never
 * being created at once.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { HttpReply } from "./bmc_http.ts";
import { MalformedReplyError } from "./errors.ts";
import { redfishErrorOf } from "./error_reply.ts";
import { SessionSchema } from "./schemas.ts";

/** A session the client holds: its token, and where to DELETE it (when the BMC said). */
export interface SessionHandle {
  token: string;
  location: string | undefined;
}

/** What became of a session creation request. */
export type SessionOutcome = "created" | "refused";

/** The authentication state of one client. */
export class SessionAuth {
  readonly #origin: string;
  readonly #username: string;
  readonly #password: string;
  /** Undefined until discovery has run; then the sessions collection, or undefined for basic. */
  #mode: { kind: "session"; sessionsPath: string } | { kind: "basic" } | undefined;
  #session: SessionHandle | undefined;

  constructor(origin: string, username: string, password: string) {
    this.#origin = origin;
    this.#username = username;
    this.#password = password;
  }

  /** Whether discovery has told us how to authenticate. */
  get configured(): boolean {
    return this.#mode !== undefined;
  }

  /** The session held now, if any. */
  get session(): SessionHandle | undefined {
    return this.#session;
  }

  /** From discovery: the root's `Links.Sessions`, or undefined when it offers none (then HTTP basic). */
  configure(sessionsPath: string | undefined): void {
    if (this.#mode !== undefined) return;
    this.#mode = sessionsPath === undefined ? { kind: "basic" } : { kind: "session", sessionsPath };
  }

  /** The headers that authenticate a request now, or undefined when a session must be created first. */
  headers(): Record<string, string> | undefined {
    if (this.#mode?.kind !== "session") return { Authorization: this.#basic() };
    return this.#session === undefined ? undefined : { "X-Auth-Token": this.#session.token };
  }

  /** The session creation request (POST to the sessions collection). */
  createRequest(): { path: string; body: string } {
    if (this.#mode?.kind !== "session") throw new TypeError("Cannot create a Redfish session: sessions are not in use");
    return {
      path: this.#mode.sessionsPath,
      body: JSON.stringify({ UserName: this.#username, Password: this.#password }),
    };
  }

  /**
   * Reads the reply to {@linkcode createRequest}: keeps the session
   * (`created`), or switches this client to HTTP basic when the BMC refuses
   * sessions (404/405/501, or 400/503 with `SessionLimitExceeded`:
   * `refused`). Throws a {@linkcode RedfishError} for anything else (a 401
   * says authentication failed; a 5xx is retried by the transport), and a
   * {@linkcode MalformedReplyError} for a 2xx without `X-Auth-Token`.
   */
  accept(reply: HttpReply): SessionOutcome {
    const { path } = this.createRequest();
    if (reply.status >= 200 && reply.status < 300) {
      const token = single(reply.headers["x-auth-token"]);
      if (token === undefined || token === "") {
        throw new MalformedReplyError(this.#origin, reply.status, "POST", `${this.#origin}${path}`, "no X-Auth-Token");
      }
      this.#session = { token, location: sessionLocation(single(reply.headers.location), reply.text) };
      return "created";
    }
    if (reply.status === 401 || reply.status === 403) {
      throw redfishErrorOf(
        this.#origin,
        "POST",
        path,
        reply,
        `authentication failed for user "${this.#username}"`,
      );
    }
    const error = redfishErrorOf(this.#origin, "POST", path, reply, "cannot create a session");
    const limit = error.messageIds.some((id) => id.endsWith("SessionLimitExceeded"));
    if ([404, 405, 501].includes(reply.status) || ((reply.status === 503 || reply.status === 400) && limit)) {
      this.#mode = { kind: "basic" };
      return "refused";
    }
    throw error;
  }

  /** Drops the session (expired, or deleted at close); returns what was dropped. */
  forget(): SessionHandle | undefined {
    const dropped = this.#session;
    this.#session = undefined;
    return dropped;
  }

  #basic(): string {
    return `Basic ${Buffer.from(`${this.#username}:${this.#password}`, "utf8").toString("base64")}`;
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The session's path: the `Location` header (a URL or a path), else the body's `@odata.id`. */
function sessionLocation(header: string | undefined, text: string): string | undefined {
  if (header !== undefined && header !== "") {
    // Only the path: a DELETE must go to this BMC whatever host the header names.
    try {
      return new URL(header, "http://bmc.invalid").pathname;
    } catch {
      return undefined;
    }
  }
  try {
    const body = SessionSchema.safeParse(JSON.parse(text));
    if (body.success) return body.data["@odata.id"];
  } catch {
    // No body, or not JSON: the session cannot be deleted, and will expire on its own.
  }
  return undefined;
}
