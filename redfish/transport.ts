/**
 * One BMC's request path: its turn (a FIFO gate, one request in flight per
 * BMC), then a slot of the pool's shared limit, then authentication (one
 * session, created on first use and renewed once after a 401), then the HTTP
 * exchange; transient failures retried with jittered exponential backoff and
 * `Retry-After`, as {@linkcode retryReason} allows.
 *
 * The BMC's gate is held for a whole logical request (its retries, and a
 * session creation or renewal, included), so requests to one BMC never
 * overlap and a session is never created twice at once. The pool's slot is
 * held only for each HTTP exchange and acquired after the gate, so a BMC's
 * queue, or its backoff, never holds shared slots.
 *
 * The retry loop is a small one rather than p-retry: each failure is judged
 * twice (retry it? for a reset, may it have acted?), the class that decides
 * changes mid-attempt (a reset's session creation is retried like a GET), and
 * `Retry-After` replaces the wait rather than adding to it.
 *
 * @module
 */
import { abortableSleep } from "./abortable.ts";
import { BmcHttp, type HttpReply } from "./bmc_http.ts";
import type { BmcEndpoint, PoolConfig } from "./config.ts";
import { BmcTimeoutError, BmcUnreachableError, ClientClosedError, RedfishError } from "./errors.ts";
import { redfishErrorOf } from "./error_reply.ts";
import { FifoSemaphore } from "./fifo_semaphore.ts";
import type { Operation, RedfishMetrics, RequestOutcome } from "./metrics.ts";
import { backoffDelayMs, RETRY_AFTER_CAP_MS, type RetryClass, retryReason } from "./retry_policy.ts";
import { SessionAuth } from "./session_auth.ts";

/** What the pool shares with its clients. */
export interface PoolShared {
  config: PoolConfig;
  metrics: RedfishMetrics;
  /** The pool's in-flight limit. */
  slots: FifoSemaphore;
  /** Counts the pool reports (`queued`, `sessionsOpen`); the transports keep them. */
  counts: { queued: number; sessionsOpen: number };
}

/** One logical request. */
export interface RedfishRequest {
  operation: Operation;
  method: "GET" | "POST" | "DELETE";
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  /** False only for the service root, which Redfish serves without credentials. */
  auth: boolean;
  /** `once` for a reset: see {@linkcode retryReason}. */
  retry: RetryClass;
  /** Error statuses returned as replies instead of thrown (a task monitor's 404, a reset's 409). */
  accept?: readonly number[];
  /** Send on a new connection (see `HttpRequest.freshConnection`). */
  freshConnection?: boolean;
}

/** Which retry rules apply to the failure of an attempt: the request's, or a session creation's within it. */
interface Progress {
  retry: RetryClass;
  operation: Operation;
}

/** One BMC's requests. Owned by a `RedfishClient`. */
export class Transport {
  readonly origin: string;
  readonly #shared: PoolShared;
  readonly #http: BmcHttp;
  readonly #auth: SessionAuth;
  /** One request in flight to this BMC. */
  readonly #gate = new FifoSemaphore(1);
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;

  constructor(origin: string, endpoint: BmcEndpoint, shared: PoolShared) {
    this.origin = origin;
    this.#shared = shared;
    this.#auth = new SessionAuth(origin, endpoint.username, endpoint.password);
    this.#http = new BmcHttp(origin, {
      tls: endpoint.tls,
      idleSocketMs: shared.config.idleSocketMs,
      requestTimeoutMs: shared.config.requestTimeoutMs,
    });
  }

  /** Requests waiting for this BMC's turn. */
  get waiting(): number {
    return this.#gate.waiting;
  }

  /** Whether discovery has told the transport how to authenticate. */
  get authConfigured(): boolean {
    return this.#auth.configured;
  }

  /** From discovery: use sessions at `sessionsPath`, or HTTP basic when undefined. */
  configureAuth(sessionsPath: string | undefined): void {
    this.#auth.configure(sessionsPath);
  }

  /**
   * Sends `request` in this BMC's turn, retrying transient failures.
   * Resolves with a 2xx reply (or one of `accept`); rejects with
   * {@linkcode RedfishError}, `BmcUnreachableError`, `BmcTimeoutError` (the
   * last failure once retries are spent, or one that may not be retried),
   * with the signal's reason when it aborts, and with
   * {@linkcode ClientClosedError} once the client is closed.
   */
  async request(request: RedfishRequest, signal?: AbortSignal): Promise<HttpReply> {
    const callSignal = signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal]);
    const release = await this.#wait(this.#gate, callSignal);
    try {
      return await this.#withRetries(request, callSignal);
    } finally {
      release();
    }
  }

  /**
   * Rejects waiting and in-flight requests (and every later one) with
   * {@linkcode ClientClosedError}, DELETEs the session (errors ignored; at
   * most until `signal` aborts), and closes the sockets. Idempotent.
   */
  close(signal: AbortSignal): Promise<void> {
    this.#closed ??= this.#close(signal);
    return this.#closed;
  }

  async #close(signal: AbortSignal): Promise<void> {
    const reason = new ClientClosedError(this.origin);
    this.#gate.close(reason);
    this.#closing.abort(reason);
    // Every wait of a request in flight listens to #closing, so it ends at once.
    await this.#gate.idle();
    const session = this.#auth.session;
    try {
      if (session?.location !== undefined && !signal.aborted) {
        const request: RedfishRequest = {
          operation: "session_delete",
          method: "DELETE",
          path: session.location,
          auth: true,
          retry: "idempotent",
        };
        const reply = await this.#exchange(request, { "X-Auth-Token": session.token }, signal);
        if (reply.status < 300 || reply.status === 404) this.#shared.metrics.sessions.inc({ event: "deleted" });
      }
    } catch {
      // The BMC is unwell or slow: the session expires there on its own (SessionTimeout).
    } finally {
      this.#forgetSession();
      this.#http.destroy();
    }
  }

  async #withRetries(request: RedfishRequest, signal: AbortSignal): Promise<HttpReply> {
    const { attempts } = this.#shared.config;
    for (let attempt = 1;; attempt++) {
      const progress: Progress = { retry: request.retry, operation: request.operation };
      try {
        return await this.#attempt(request, signal, progress);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        const reason = retryReason(progress.retry, error);
        if (reason === undefined || attempt >= attempts) throw error;
        const retryAfterMs = error instanceof RedfishError ? error.retryAfterMs ?? 0 : 0;
        if (retryAfterMs > RETRY_AFTER_CAP_MS) throw error;
        this.#shared.metrics.retries.inc({ operation: progress.operation, reason });
        await abortableSleep(Math.max(backoffDelayMs(attempt, this.#shared.config), retryAfterMs), signal);
      }
    }
  }

  /** One attempt: authenticate (creating or renewing the session as needed), send, judge the status. */
  async #attempt(request: RedfishRequest, signal: AbortSignal, progress: Progress): Promise<HttpReply> {
    if (!request.auth) return this.#judged(request, await this.#exchange(request, {}, signal));
    let headers = await this.#authHeaders(signal, progress);
    let reply = await this.#exchange(request, headers, signal);
    if (reply.status === 401 && "X-Auth-Token" in headers) {
      // The BMC no longer knows the token (expired, or the BMC restarted): nothing left to delete.
      // One new session, and the request once more.
      this.#forgetSession();
      this.#shared.metrics.sessions.inc({ event: "renewed" });
      headers = await this.#authHeaders(signal, progress);
      reply = await this.#exchange(request, headers, signal);
    }
    return this.#judged(request, reply);
  }

  /** The headers that authenticate a request, creating a session first when there is none. */
  async #authHeaders(signal: AbortSignal, progress: Progress): Promise<Record<string, string>> {
    const ready = this.#auth.headers();
    if (ready !== undefined) return ready;
    const create = this.#auth.createRequest();
    // Until the session exists, a failure is the session POST's: retried like a GET, even within a reset.
    const outer = { ...progress };
    progress.retry = "idempotent";
    progress.operation = "session_create";
    const reply = await this.#exchange(
      {
        operation: "session_create",
        method: "POST",
        path: create.path,
        body: create.body,
        auth: false,
        retry: "idempotent",
      },
      {},
      signal,
    );
    const outcome = this.#auth.accept(reply);
    if (outcome === "created") {
      this.#shared.counts.sessionsOpen++;
      this.#shared.metrics.sessionsOpen.inc();
    }
    this.#shared.metrics.sessions.inc({ event: outcome });
    Object.assign(progress, outer);
    const headers = this.#auth.headers();
    if (headers === undefined) throw new TypeError("Redfish session was accepted but yields no headers");
    return headers;
  }

  /** The reply, when its status is a success or accepted; else its error. */
  #judged(request: RedfishRequest, reply: HttpReply): HttpReply {
    if ((reply.status >= 200 && reply.status < 300) || request.accept?.includes(reply.status)) return reply;
    const summary = reply.status === 401 ? "authentication failed" : undefined;
    throw redfishErrorOf(this.origin, request.method, request.path, reply, summary);
  }

  /** One HTTP exchange in a slot of the pool, counted in the metrics. */
  async #exchange(request: RedfishRequest, auth: Record<string, string>, signal: AbortSignal): Promise<HttpReply> {
    const { metrics, slots } = this.#shared;
    const release = await this.#wait(slots, signal);
    metrics.inFlight.inc();
    const started = performance.now();
    const operation = request.operation;
    try {
      const body = request.body === undefined
        ? undefined
        : typeof request.body === "string"
        ? request.body
        : JSON.stringify(request.body);
      const reply = await this.#http.send({
        method: request.method,
        path: request.path,
        headers: {
          "Accept": "application/json",
          "OData-Version": "4.0",
          "User-Agent": "drover-redfish",
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          ...auth,
        },
        body,
        freshConnection: request.freshConnection,
      }, signal);
      metrics.requests.inc({ operation, outcome: outcomeOf(reply.status) });
      return reply;
    } catch (error) {
      const outcome: RequestOutcome = signal.aborted
        ? "aborted"
        : error instanceof BmcTimeoutError
        ? "timeout"
        : error instanceof BmcUnreachableError
        ? "unreachable"
        : "malformed";
      metrics.requests.inc({ operation, outcome });
      throw error;
    } finally {
      metrics.requestSeconds.observe({ operation }, (performance.now() - started) / 1000);
      metrics.inFlight.dec();
      release();
    }
  }

  async #wait(semaphore: FifoSemaphore, signal: AbortSignal): Promise<() => void> {
    const { counts, metrics } = this.#shared;
    counts.queued++;
    metrics.queued.inc();
    try {
      return await semaphore.acquire(signal);
    } finally {
      counts.queued--;
      metrics.queued.dec();
    }
  }

  #forgetSession(): void {
    if (this.#auth.forget() === undefined) return;
    this.#shared.counts.sessionsOpen--;
    this.#shared.metrics.sessionsOpen.dec();
  }
}

function outcomeOf(status: number): RequestOutcome {
  if (status < 300) return "2xx";
  if (status === 401) return "401";
  if (status === 429) return "429";
  if (status === 503) return "503";
  return status >= 500 ? "5xx" : "4xx";
}
