/**
 * Errors the Redfish client throws. Callers check them with `instanceof`,
 * never by message text; fields carry the facts, and every message names the
 * BMC's origin and what happened. No error ever contains a password or a
 * session token.
 *
 * @module
 */

/**
 * The BMC answered with an error status (or, for {@linkcode MalformedReplyError},
 * with a reply the client cannot read). The message carries the body's
 * `error.message` and each `@Message.ExtendedInfo` `Message`.
 *
 * What to do next depends on `status`: 401 means the credentials are wrong
 * (fix them; retrying cannot help), 404 a wrong path, 5xx/503/429 a BMC that
 * stayed unwell through every retry (try again later).
 */
export class RedfishError extends Error {
  /** For a 503 or 429 with `Retry-After`: how long the BMC asked us to wait, milliseconds. */
  readonly retryAfterMs: number | undefined;

  /** An error reply to `method url` from the BMC at `origin`. */
  constructor(
    /** The BMC, e.g. `https://10.21.4.17`. */
    readonly origin: string,
    /** The HTTP status, e.g. 503. */
    readonly status: number,
    /** The request's method, e.g. `GET`. */
    readonly method: string,
    /** The request's full URL, e.g. `https://10.21.4.17/redfish/v1/Systems/1`. */
    readonly url: string,
    /** The `MessageId`s of the body's `error.code` and `@Message.ExtendedInfo`, e.g. `Base.1.8.SessionLimitExceeded`. */
    readonly messageIds: readonly string[],
    /** The body's `error.message` and each extended `Message`, or a bit of a non-Redfish body's text. */
    readonly messages: readonly string[],
    options?: ErrorOptions & { retryAfterMs?: number; summary?: string },
  ) {
    const path = url.startsWith(origin) ? url.slice(origin.length) : url;
    const what = options?.summary === undefined ? "" : `${options.summary}: `;
    const said = messages.length > 0 ? messages.join("; ") : "no error message";
    super(`BMC ${origin}: ${what}${method} ${path} got HTTP ${status}: ${said}`, options);
    this.name = "RedfishError";
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * A 2xx reply that is not JSON, is too large, or lacks what the client needs
 * (a session without `X-Auth-Token`, a system without `PowerState`'s shape).
 * Not retried: the same request gets the same reply. A {@linkcode RedfishError},
 * so code that handles every BMC answer in one place still catches it.
 */
export class MalformedReplyError extends RedfishError {
  /** A reply to `method url` that the client cannot read, and why (`problem`). */
  constructor(origin: string, status: number, method: string, url: string, problem: string, options?: ErrorOptions) {
    super(origin, status, method, url, [], [`malformed reply: ${problem}`], options);
    this.name = "MalformedReplyError";
  }
}

/** Why a request got no reply at all: the `reason` of a {@linkcode BmcUnreachableError}. */
export type UnreachableReason = "refused" | "dns" | "tls" | "lost" | "network";

/**
 * The BMC could not be reached, or the connection broke before its reply:
 * connection refused, an unknown host, a TLS failure (certificate), a reply
 * lost to a reset connection. Retried (except TLS failures, which repeat)
 * before a caller sees it.
 *
 * `maybeDelivered` is false when the request certainly never reached the BMC
 * (no connection was established); when true, the BMC may have acted on it.
 */
export class BmcUnreachableError extends Error {
  /** The request to the BMC at `origin` got no reply, for `reason`. */
  constructor(
    readonly origin: string,
    readonly reason: UnreachableReason,
    /** The system error code, e.g. `ECONNREFUSED`, `DEPTH_ZERO_SELF_SIGNED_CERT`, when there was one. */
    readonly code: string | undefined,
    /** False: the request certainly did not reach the BMC. True: it may have. */
    readonly maybeDelivered: boolean,
    options?: ErrorOptions & { detail?: string },
  ) {
    super(`BMC ${origin}: ${options?.detail ?? describeUnreachable(reason, code, options?.cause)}`, options);
    this.name = "BmcUnreachableError";
  }
}

/**
 * No complete reply within the per-request timeout (`requestTimeoutMs`).
 * Retried for reads; for a reset the outcome is unknown and the client reads
 * the power state instead of resending.
 */
export class BmcTimeoutError extends Error {
  /** No reply to `method path` within `timeoutMs`. */
  constructor(
    readonly origin: string,
    readonly method: string,
    readonly path: string,
    readonly timeoutMs: number,
    /** False: the connection was never established, so the BMC certainly did not see the request. */
    readonly maybeDelivered: boolean,
    options?: ErrorOptions,
  ) {
    super(`BMC ${origin}: ${method} ${path} got no reply within ${timeoutMs} ms`, options);
    this.name = "BmcTimeoutError";
  }
}

/**
 * The system asked for does not exist, or none was named and the BMC has not
 * exactly one. `members` lists the BMC's systems: pick one and pass its path.
 */
export class SystemNotFoundError extends Error {
  /** The system `requested` (undefined: the only one) is not among `members`. */
  constructor(
    readonly origin: string,
    /** The path asked for; undefined when the caller asked for "the only system". */
    readonly requested: string | undefined,
    /** The `@odata.id`s of the BMC's Systems collection. */
    readonly members: readonly string[],
    options?: ErrorOptions,
  ) {
    const listed = members.length === 0 ? "it has no systems" : `its systems are ${members.join(", ")}`;
    const what = requested === undefined
      ? members.length === 0 ? "no system to choose" : `${members.length} systems, name one`
      : `no system at ${requested}`;
    super(`BMC ${origin}: ${what}; ${listed}`, options);
    this.name = "SystemNotFoundError";
  }
}

/**
 * A power action was sent (or its reply lost) but the expected transition was
 * not seen in time, or the BMC's task for it failed. `sent` and `seen` say
 * what happened; the machine's state is whatever `seen` ends with. Read the
 * state (and the machine) before trying again.
 */
export class PowerTransitionError extends Error {
  /** The `action` on `systemPath` failed for `problem`, after sending `sent` and reading `seen`. */
  constructor(
    readonly origin: string,
    readonly systemPath: string,
    readonly action: "on" | "off" | "restart",
    /** The ResetTypes sent, in order (including one whose reply was lost). */
    readonly sent: readonly string[],
    /** The power states read, in order, repeats collapsed; `unreachable` for a failed read. */
    readonly seen: readonly string[],
    /** Why the action failed, e.g. `not restarted within 300 s`. */
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    const sentText = sent.length === 0 ? "nothing sent" : `sent ${sent.join(", ")}`;
    super(
      `BMC ${origin}: ${action} of ${systemPath} failed: ${problem} (${sentText}; saw ${
        seen.join(" → ") || "nothing"
      })`,
      options,
    );
    this.name = "PowerTransitionError";
  }
}

/**
 * The system's `ResetType@Redfish.AllowableValues` offer no way to do the
 * action (e.g. `off` without GracefulShutdown or ForceOff). Nothing was sent.
 */
export class UnsupportedResetError extends Error {
  /** The `action` on `systemPath` needs a ResetType the system does not allow. */
  constructor(
    readonly origin: string,
    readonly systemPath: string,
    readonly action: "on" | "off" | "restart",
    /** The ResetTypes the system allows. */
    readonly allowed: readonly string[],
    /** What would have been needed, e.g. `On, ForceOn or PushPowerButton`. */
    readonly needed: string,
    options?: ErrorOptions,
  ) {
    super(
      `BMC ${origin}: cannot ${action} ${systemPath}: it allows ${allowed.join(", ") || "no ResetType"}, ` +
        `the action needs ${needed}`,
      options,
    );
    this.name = "UnsupportedResetError";
  }
}

/** The client (or its pool) was closed: calls waiting or in flight reject with this, and so does every later call. */
export class ClientClosedError extends Error {
  /** The client of `origin` (undefined: the pool) is closed. */
  constructor(readonly origin: string | undefined, options?: ErrorOptions) {
    super(origin === undefined ? "The Redfish pool is closed" : `BMC ${origin}: the Redfish client is closed`, options);
    this.name = "ClientClosedError";
  }
}

function describeUnreachable(reason: UnreachableReason, code: string | undefined, cause: unknown): string {
  const said = describe(cause);
  switch (reason) {
    case "refused":
      return "connection refused";
    case "dns":
      return `unknown host (${code ?? said})`;
    case "lost":
      return `the connection broke before the reply (${said}); the BMC may have acted on the request`;
    case "tls":
      return `TLS: ${said}`;
    case "network":
      return `network error: ${said}`;
  }
}

/** A short text for a thrown value of any type. */
function describe(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
