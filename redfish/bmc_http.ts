/**
 * One BMC's HTTP connection: one exchange at a time over `node:http` /
 * `node:https`, with the BMC's TLS mode, a per-request timeout, and errors
 * that say whether the request can have reached the BMC.
 *
 * Why not `fetch`: Deno's fetch (rustls) rejects a BMC's self-signed
 * certificate even when it is given as the CA ("CaUsedAsEndEntity"), and has
 * no per-client way to skip verification. `node:https` under Deno handles all
 * three modes (measured): default verification (fails "self-signed
 * certificate"), `ca: pem` (works with the self-signed certificate itself),
 * `rejectUnauthorized: false` (works).
 *
 * Each BMC gets its own `Agent` with `keepAlive: true, maxSockets: 1`: one
 * connection reused for every request (a TLS handshake costs a BMC up to a
 * second), never two (BMCs allow few). `timeout: idleSocketMs` closes the
 * socket once it has idled that long, so a fleet of 10,000 BMCs polled now
 * and then does not hold 10,000 sockets open. (The agent's timeout only
 * destroys free sockets; a slow reply in flight is bounded by the request
 * timeout instead.)
 *
 * @module
 */
import http from "node:http";
import https from "node:https";
import { Buffer } from "node:buffer";
import type { TlsMode } from "./config.ts";
import { BmcTimeoutError, BmcUnreachableError, MalformedReplyError, type UnreachableReason } from "./errors.ts";

/** Replies larger than this are refused: a Redfish resource is a few kilobytes, and a BMC is not a file server. */
const MAX_REPLY_BYTES = 4 * 1024 * 1024;

/** One HTTP request to the BMC. */
export interface HttpRequest {
  method: "GET" | "POST" | "DELETE";
  /** An absolute path on the BMC, e.g. `/redfish/v1/Systems/1`. */
  path: string;
  headers: Record<string, string>;
  /** Sent as is (JSON text). */
  body?: string;
  /**
   * Send on a new connection instead of the kept-alive one. A reset goes
   * this way: a kept-alive socket the BMC closed while idle breaks the next
   * request on it ("socket hang up"), which for a reset would leave its
   * outcome unknown; on a new connection, a break means what it says.
   */
  freshConnection?: boolean;
}

/** A whole reply. Header names are lower case. */
export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** The BMC's HTTP connection options. */
export interface BmcHttpOptions {
  tls: TlsMode | undefined;
  idleSocketMs: number;
  requestTimeoutMs: number;
}

/** One BMC's connection. Call {@linkcode BmcHttp.destroy} when done, or its idle socket lingers until it times out. */
export class BmcHttp {
  readonly origin: string;
  readonly #url: URL;
  readonly #secure: boolean;
  readonly #tls: https.AgentOptions;
  readonly #agent: http.Agent;
  #freshAgent: http.Agent | undefined;
  readonly #requestTimeoutMs: number;

  constructor(origin: string, options: BmcHttpOptions) {
    this.origin = origin;
    this.#url = new URL(origin);
    this.#secure = this.#url.protocol === "https:";
    this.#tls = tlsOptions(options.tls);
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#agent = this.#secure
      ? new https.Agent({ keepAlive: true, maxSockets: 1, timeout: options.idleSocketMs, ...this.#tls })
      : new http.Agent({ keepAlive: true, maxSockets: 1, timeout: options.idleSocketMs });
  }

  /**
   * Sends `request` and reads the whole reply, within the request timeout.
   * Resolves with any status; rejects with {@linkcode BmcUnreachableError},
   * {@linkcode BmcTimeoutError}, {@linkcode MalformedReplyError} (too large),
   * or the signal's reason when it aborts.
   */
  send(request: HttpRequest, signal: AbortSignal): Promise<HttpReply> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<HttpReply>((resolve, reject) => {
      // Whether a connection to the BMC was established: before that, the BMC cannot have seen the request.
      let connected = false;
      let settled = false;
      // A timer cleared when the request settles, not AbortSignal.timeout(): that one stays pending for the
      // whole timeout, holding the request's state (about 0.7 KB each, 10 MiB at 450 requests/s and 30 s).
      const timer = setTimeout(() => {
        const error = this.#timedOut(request, connected);
        settle(() => reject(error));
        outgoing.destroy();
      }, this.#requestTimeoutMs);
      const settle = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => {
        settle(() => reject(signal.reason));
        outgoing.destroy();
      };
      const outgoing = (this.#secure ? https : http).request({
        protocol: this.#url.protocol,
        hostname: this.#url.hostname.replace(/^\[|\]$/g, ""),
        port: this.#url.port === "" ? undefined : Number(this.#url.port),
        method: request.method,
        path: request.path,
        headers: request.headers,
        agent: request.freshConnection ? this.#fresh() : this.#agent,
      }, (incoming) => {
        const chunks: Buffer[] = [];
        let size = 0;
        incoming.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_REPLY_BYTES) {
            const url = `${this.origin}${request.path}`;
            const error = new MalformedReplyError(
              this.origin,
              incoming.statusCode ?? 0,
              request.method,
              url,
              `the reply is larger than ${MAX_REPLY_BYTES} bytes`,
            );
            settle(() => reject(error));
            outgoing.destroy();
            return;
          }
          chunks.push(chunk);
        });
        incoming.on("end", () =>
          settle(() =>
            resolve({
              status: incoming.statusCode ?? 0,
              headers: incoming.headers,
              text: Buffer.concat(chunks).toString("utf8"),
            })
          ));
        incoming.on("error", (error) => settle(() => reject(this.#unreachable(error, connected))));
      });
      outgoing.on("socket", (socket) => {
        // A reused keep-alive socket is connected already.
        if (!socket.connecting) connected = true;
        else socket.once(this.#secure ? "secureConnect" : "connect", () => connected = true);
      });
      outgoing.on("error", (error) => settle(() => reject(this.#unreachable(error, connected))));
      signal.addEventListener("abort", onAbort, { once: true });
      outgoing.end(request.body);
    });
  }

  /** Closes the sockets (idle and busy); requests in flight fail. */
  destroy(): void {
    this.#agent.destroy();
    this.#freshAgent?.destroy();
  }

  #fresh(): http.Agent {
    this.#freshAgent ??= this.#secure
      ? new https.Agent({ keepAlive: false, maxSockets: 1, ...this.#tls })
      : new http.Agent({ keepAlive: false, maxSockets: 1 });
    return this.#freshAgent;
  }

  #timedOut(request: HttpRequest, connected: boolean): BmcTimeoutError {
    return new BmcTimeoutError(this.origin, request.method, request.path, this.#requestTimeoutMs, connected);
  }

  #unreachable(error: unknown, connected: boolean): BmcUnreachableError {
    const code = errorCode(error);
    const reason = unreachableReason(code, error);
    return new BmcUnreachableError(this.origin, reason, code, connected, {
      cause: error,
      detail: reason === "tls" ? tlsDetail(code, error) : undefined,
    });
  }
}

function tlsOptions(tls: TlsMode | undefined): https.AgentOptions {
  if (tls === undefined || tls === "verify") return {};
  if (tls === "insecure") return { rejectUnauthorized: false };
  return { ca: tls.ca };
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

function unreachableReason(code: string | undefined, error: unknown): UnreachableReason {
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "dns";
  if (code !== undefined && (TLS_CODES.has(code) || code.startsWith("ERR_TLS") || code.startsWith("ERR_SSL"))) {
    return "tls";
  }
  if (code === "ECONNRESET" || code === "EPIPE" || (error instanceof Error && /hang up/i.test(error.message))) {
    return "lost";
  }
  return "network";
}

/** What an operator reads for a certificate failure, with the fix where there is one. */
function tlsDetail(code: string | undefined, error: unknown): string {
  const said = error instanceof Error ? error.message : String(error);
  switch (code) {
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "SELF_SIGNED_CERT_IN_CHAIN":
      return "TLS: self-signed certificate (set tls: insecure or give its CA)";
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
      return "TLS: certificate signed by an unknown authority (set tls: insecure or give its CA)";
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `TLS: the certificate does not name this host (${said})`;
    case "CERT_HAS_EXPIRED":
      return "TLS: the certificate has expired";
    default:
      return `TLS: ${said}`;
  }
}
