/**
 * Errors the Metal API client throws. Callers check them with `instanceof`,
 * never by message text; fields carry the facts. No error ever contains the
 * API token.
 *
 * @module
 */

/** One problem zod found in a reply: where (`devices.3.state`, or `(root)`) and what. */
export interface ReplyIssue {
  path: string;
  message: string;
}

/**
 * The API answered a request with an error status. For 4xx other than 429
 * the call failed at once (retrying cannot help: fix the request, the token
 * or the project); a 5xx or 429 is retried and appears only as the `cause`
 * of a {@linkcode DeadlineExceededError}.
 */
export class MetalApiError extends Error {
  /** For a 429 (or 503) with a `Retry-After` header: how long the API asked us to wait, milliseconds. */
  readonly retryAfterMs: number | undefined;

  constructor(
    /** The HTTP status, e.g. 404. */
    readonly status: number,
    /** The client method that made the request, e.g. `getDevice`. */
    readonly operation: string,
    /** The API's own error messages (`errors`, or `error`), or the reply's text when it had no JSON error. */
    readonly messages: readonly string[],
    options?: ErrorOptions & { retryAfterMs?: number },
  ) {
    const text = messages.length > 0 ? messages.join("; ") : "no error message";
    super(`${text} (HTTP ${status} from ${operation})`, options);
    this.name = "MetalApiError";
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/**
 * A request got no usable reply: the network failed, the per-request
 * timeout passed (how a lost reply shows), or the reply's body could not be
 * read. Transient: the client retries it; callers see it only as the `cause`
 * of a {@linkcode DeadlineExceededError}.
 */
export class RequestFailedError extends Error {
  constructor(
    readonly operation: string,
    /** `network`: no connection or it broke; `timeout`: no reply within the timeout; `unreadable`: the body broke off. */
    readonly kind: "network" | "timeout" | "unreadable",
    /** What was requested, e.g. `GET /devices/{id}` with the id filled in (no query string). */
    readonly request: string,
    options?: ErrorOptions,
  ) {
    const what = kind === "timeout"
      ? "no reply within the request timeout"
      : kind === "unreadable"
      ? `the reply's body could not be read: ${describe(options?.cause)}`
      : `network error: ${describe(options?.cause)}`;
    super(`${request} (${operation}) failed: ${what}`, options);
    this.name = "RequestFailedError";
  }
}

/**
 * Transient failures went on until `maxElapsedMs` passed (or a 429 asked for
 * a wait beyond it). `cause` is the last failure (a {@linkcode MetalApiError}
 * with a 5xx or 429 status, or a {@linkcode RequestFailedError}). A mutating
 * call may or may not have taken effect: read the state before trying again.
 */
export class DeadlineExceededError extends Error {
  constructor(
    readonly operation: string,
    /** Milliseconds from the first attempt to giving up. */
    readonly elapsedMs: number,
    /** Attempts of the retry loop (one attempt may be several requests: createDevice's read and create, pages). */
    readonly attempts: number,
    options: ErrorOptions & { cause: unknown },
  ) {
    super(
      `${operation} gave up after ${Math.round(elapsedMs)} ms and ${attempts} attempt(s); last error: ` +
        describe(options.cause),
      options,
    );
    this.name = "DeadlineExceededError";
  }
}

/** `createDevice` was called without `hardware_reservation_id`. Nothing was sent. */
export class NoReservationProvidedError extends Error {
  constructor(options?: ErrorOptions) {
    super("Cannot create device: hardware_reservation_id must be set (Drover only creates reserved devices)", options);
    this.name = "NoReservationProvidedError";
  }
}

/**
 * `createDevice` found the hardware reservation in use by a device that is
 * not ours (it lacks this call's witness tag): another API user took it,
 * possibly while our create's reply was lost. We created nothing. What to do
 * next: pick another reservation.
 */
export class RaceLostError extends Error {
  constructor(readonly reservationId: string, readonly otherDeviceId: string | undefined, options?: ErrorOptions) {
    super(
      `Cannot create device on hardware reservation ${reservationId}: it is taken by ` +
        (otherDeviceId === undefined ? "another device" : `device ${otherDeviceId}`) + ", which is not ours",
      options,
    );
    this.name = "RaceLostError";
  }
}

/** `createSSHKey` found a key with this label and a different key. Nothing was changed. */
export class SSHKeyLabelConflictError extends Error {
  constructor(readonly label: string, readonly existingKeyId: string, options?: ErrorOptions) {
    super(`Cannot create SSH key "${label}": key ${existingKeyId} has that label and a different key`, options);
    this.name = "SSHKeyLabelConflictError";
  }
}

/**
 * A 2xx reply that is not JSON or does not match the API's shape. Not
 * retried: the same request would get the same reply. `issues` says which
 * fields were wrong.
 */
export class MalformedReplyError extends Error {
  constructor(
    readonly operation: string,
    readonly status: number,
    readonly issues: readonly ReplyIssue[],
    options?: ErrorOptions,
  ) {
    const shown = issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`).join("; ");
    const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : "";
    super(`${operation} got a malformed reply (HTTP ${status}): ${shown}${more}`, options);
    this.name = "MalformedReplyError";
  }
}

/** The client was closed: calls waiting or in flight reject with this, and so does every later call. */
export class ClientClosedError extends Error {
  constructor(options?: ErrorOptions) {
    super("The Metal API client is closed", options);
    this.name = "ClientClosedError";
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
