/**
 * The client's options: their defaults, and the checks that turn a bad
 * option or argument into a `TypeError` or `RangeError` naming it (never
 * showing the token) before anything is sent.
 *
 * @module
 */
import { Registry } from "prom-client";
import { isUuid } from "./schemas.ts";

/** Options of {@linkcode EquinixClient}. Durations are milliseconds. */
export interface EquinixClientOptions {
  /** The API base, e.g. `https://api.equinix.com/metal/v1`. */
  baseUrl: string;
  /** Sent as `X-Auth-Token`; never logged, never in an error. */
  token: string;
  /** The project whose devices, reservations and SSH keys the client manages (a UUID). */
  projectId: string;
  /** Least time between the starts of any two HTTP requests (pages and retries too). @default 2000 */
  apiRate?: number;
  /** Retrying a call's transient failures stops after this long with `DeadlineExceededError`. @default 900000 (15 min) */
  maxElapsedMs?: number;
  /** One request without a reply for this long is a transient failure (a lost reply shows so). @default 30000 */
  requestTimeoutMs?: number;
  /** First backoff between attempts (then doubled, each with jitter up to 2×). @default 500 */
  initialBackoffMs?: number;
  /** Largest backoff between attempts. @default 30000 */
  maxBackoffMs?: number;
  /** `per_page` of list requests, 1 to 1000. @default 500 */
  pageSize?: number;
  /** Where the client's metrics are registered (shared with other clients). @default a new Registry */
  registry?: Registry;
  /** @default "drover-equinix-client" */
  userAgent?: string;
  /** Prefix of the witness tag `createDevice` adds. @default "drover-idempotency-" */
  witnessTagPrefix?: string;
}

/** The options with their defaults, checked. */
export interface ClientConfig {
  /** The API base without a trailing slash. */
  baseUrl: string;
  token: string;
  projectId: string;
  apiRateMs: number;
  maxElapsedMs: number;
  requestTimeoutMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  pageSize: number;
  registry: Registry;
  userAgent: string;
  witnessTagPrefix: string;
}

/** The options' defaults (the CLI shows `apiRate`'s in its usage). */
export const DEFAULTS = {
  apiRate: 2_000,
  maxElapsedMs: 15 * 60_000,
  requestTimeoutMs: 30_000,
  initialBackoffMs: 500,
  maxBackoffMs: 30_000,
  pageSize: 500,
  userAgent: "drover-equinix-client",
  witnessTagPrefix: "drover-idempotency-",
} as const;

/** The API's page size limit (components/parameters/PerPage). */
const MAX_PAGE_SIZE = 1000;

/**
 * `options` with defaults applied.
 * @throws {TypeError | RangeError} an option is missing, of the wrong type or out of range; the message names it.
 */
export function resolveClientOptions(options: EquinixClientOptions): ClientConfig {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Cannot create EquinixClient: options must be an object");
  }
  const baseUrl = checkBaseUrl(options.baseUrl);
  const token = options.token;
  if (typeof token !== "string" || token === "") {
    // The token's value never goes into a message.
    throw new TypeError("Cannot create EquinixClient: token must be a non-empty string");
  }
  const creating = "create EquinixClient";
  const projectId = checkId(creating, "projectId", options.projectId);
  const apiRateMs = checkNumber("apiRate", options.apiRate ?? DEFAULTS.apiRate, 0);
  const maxElapsedMs = checkNumber("maxElapsedMs", options.maxElapsedMs ?? DEFAULTS.maxElapsedMs, 0);
  const requestTimeoutMs = checkNumber("requestTimeoutMs", options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs, 1);
  const initialBackoffMs = checkNumber("initialBackoffMs", options.initialBackoffMs ?? DEFAULTS.initialBackoffMs, 1);
  const maxBackoffMs = checkNumber(
    "maxBackoffMs",
    options.maxBackoffMs ?? Math.max(DEFAULTS.maxBackoffMs, initialBackoffMs),
    initialBackoffMs,
  );
  const pageSize = checkNumber("pageSize", options.pageSize ?? DEFAULTS.pageSize, 1, MAX_PAGE_SIZE);
  if (!Number.isInteger(pageSize)) {
    throw new RangeError(`Cannot create EquinixClient: pageSize must be an integer: current value is ${pageSize}`);
  }
  const witnessTagPrefix = checkText(
    creating,
    "witnessTagPrefix",
    options.witnessTagPrefix ?? DEFAULTS.witnessTagPrefix,
  );
  const userAgent = checkText(creating, "userAgent", options.userAgent ?? DEFAULTS.userAgent);
  if (options.registry !== undefined && !(options.registry instanceof Registry)) {
    throw new TypeError("Cannot create EquinixClient: registry must be a prom-client Registry");
  }
  return {
    baseUrl,
    token,
    projectId,
    apiRateMs,
    maxElapsedMs,
    requestTimeoutMs,
    initialBackoffMs,
    maxBackoffMs,
    pageSize,
    registry: options.registry ?? new Registry(),
    userAgent,
    witnessTagPrefix,
  };
}

/**
 * `value` as a lower-case UUID.
 * @throws {TypeError | RangeError} "Cannot <action>: <field> must be …"
 */
export function checkId(action: string, field: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot ${action}: ${field} must be a string: current value is ${typeof value}`);
  }
  if (!isUuid(value)) {
    throw new RangeError(`Cannot ${action}: ${field} must be a UUID: current value is ${JSON.stringify(value)}`);
  }
  return value.toLowerCase();
}

/**
 * `value`, a string that is not blank.
 * @throws {TypeError | RangeError} "Cannot <action>: <field> must …"
 */
export function checkText(action: string, field: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot ${action}: ${field} must be a string: current value is ${typeof value}`);
  }
  if (value.trim() === "") throw new RangeError(`Cannot ${action}: ${field} must not be empty`);
  return value;
}

function checkBaseUrl(value: unknown): string {
  if (typeof value !== "string") throw new TypeError("Cannot create EquinixClient: baseUrl must be a string");
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(
      `Cannot create EquinixClient: baseUrl must be a URL: current value is ${JSON.stringify(value)}`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(
      `Cannot create EquinixClient: baseUrl must be http(s): current value is ${JSON.stringify(value)}`,
    );
  }
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new TypeError("Cannot create EquinixClient: baseUrl must have no credentials, query or fragment");
  }
  return url.href.replace(/\/+$/, "");
}

function checkNumber(field: string, value: unknown, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof value !== "number" || Number.isNaN(value)) {
    throw new TypeError(`Cannot create EquinixClient: ${field} must be a number: current value is ${String(value)}`);
  }
  if (!Number.isFinite(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `between ${min} and ${max}`;
    throw new RangeError(`Cannot create EquinixClient: ${field} must be ${range}: current value is ${value}`);
  }
  return value;
}
