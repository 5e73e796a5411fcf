/**
 * The Redfish pool's options and their defaults, and what identifies a BMC
 * endpoint: checked once here, so the rest of the folder reads plain numbers.
 *
 * @module
 */
import { Registry } from "prom-client";

/**
 * How to check a BMC's TLS certificate. BMCs almost always present a
 * self-signed certificate, so `verify` (the system's CAs) rarely works as is.
 *
 * - `"verify"`: the system's CAs.
 * - `{ ca }`: this PEM text is the only CA (a BMC's self-signed certificate itself works).
 * - `"insecure"`: no check (Metal3's `disableCertificateVerification`).
 */
export type TlsMode = "verify" | "insecure" | { ca: string };

/** One BMC: where it is and how to log in. */
export interface BmcEndpoint {
  /** The BMC's origin, e.g. `https://10.21.4.17` (Redfish lives under `/redfish/v1`). A path is refused. */
  url: string;
  /** The BMC account's name. */
  username: string;
  /** The BMC account's password; never logged, never in an error. */
  password: string;
  /** How to check the BMC's certificate (https only). @default {"verify"} */
  tls?: TlsMode;
}

/** Options of a {@linkcode RedfishPool}. */
export interface RedfishPoolOptions {
  /** Requests in flight over all BMCs of the pool. @default {64} */
  maxInFlight?: number;
  /** Time for one HTTP request (connect, send, the whole reply). @default {30_000} */
  requestTimeoutMs?: number;
  /**
   * Retries of transient failures: `attempts` in all (the first included),
   * waits jittered and doubling from `initialDelayMs` up to `maxDelayMs`.
   * @default {{ attempts: 4, initialDelayMs: 500, maxDelayMs: 10_000 }}
   */
  retry?: { attempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** An idle keep-alive socket to a BMC is closed after this long. @default {5_000} */
  idleSocketMs?: number;
  /** Where the `drover_redfish_*` metrics go. @default {a registry of the pool's own} */
  registry?: Registry;
}

/** The pool's options with every default filled in. */
export interface PoolConfig {
  maxInFlight: number;
  requestTimeoutMs: number;
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
  idleSocketMs: number;
  registry: Registry;
}

/**
 * The pool's options with their defaults.
 * @throws {RangeError} when a number is out of range (the message names it and its value).
 */
export function poolConfig(options: RedfishPoolOptions = {}): PoolConfig {
  const config: PoolConfig = {
    maxInFlight: options.maxInFlight ?? 64,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    attempts: options.retry?.attempts ?? 4,
    initialDelayMs: options.retry?.initialDelayMs ?? 500,
    maxDelayMs: options.retry?.maxDelayMs ?? 10_000,
    idleSocketMs: options.idleSocketMs ?? 5_000,
    registry: options.registry ?? new Registry(),
  };
  atLeast("maxInFlight", config.maxInFlight, 1, true);
  atLeast("requestTimeoutMs", config.requestTimeoutMs, 1, false);
  atLeast("retry.attempts", config.attempts, 1, true);
  atLeast("retry.initialDelayMs", config.initialDelayMs, 0, false);
  atLeast("retry.maxDelayMs", config.maxDelayMs, config.initialDelayMs, false);
  atLeast("idleSocketMs", config.idleSocketMs, 1, false);
  return config;
}

/**
 * The endpoint's origin (`https://10.21.4.17`, a default port dropped).
 * @throws {TypeError} when `url` is not an http(s) origin.
 */
export function endpointOrigin(endpoint: BmcEndpoint): string {
  let url: URL;
  try {
    url = new URL(endpoint.url);
  } catch (cause) {
    throw new TypeError(`Cannot use BMC endpoint: url must be an http(s) origin: current value is "${endpoint.url}"`, {
      cause,
    });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(`Cannot use BMC endpoint: url must be http: or https: current value is "${endpoint.url}"`);
  }
  if ((url.pathname !== "/" && url.pathname !== "") || url.search !== "" || url.username !== "") {
    throw new TypeError(
      `Cannot use BMC endpoint: url must be an origin without path, query or credentials: current value is ` +
        `"${url.origin}${url.pathname}${url.search}"`,
    );
  }
  return url.origin;
}

/** Whether two endpoints of one origin log in the same way (credentials and TLS mode). */
export function sameLogin(a: BmcEndpoint, b: BmcEndpoint): boolean {
  return a.username === b.username && a.password === b.password && tlsKey(a.tls) === tlsKey(b.tls);
}

function tlsKey(tls: TlsMode | undefined): string {
  if (tls === undefined || tls === "verify") return "verify";
  if (tls === "insecure") return "insecure";
  return `ca:${tls.ca}`;
}

function atLeast(name: string, value: number, minimum: number, integer: boolean): void {
  if (!Number.isFinite(value) || value < minimum || (integer && !Number.isInteger(value))) {
    throw new RangeError(
      `Cannot create Redfish pool: ${name} must be ${
        integer ? "an integer " : ""
      }>= ${minimum}: current value is ${value}`,
    );
  }
}
