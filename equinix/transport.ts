/**
 * One logical Metal API call at a time: serialise (a FIFO gate), space the
 * HTTP requests (`apiRateMs` between the starts of any two), time each
 * request out, retry transient failures with exponential backoff until a
 * deadline, parse replies with zod, and count it all in the metrics.
 *
 * The retry loop is p-retry: `maxRetryTime` is the deadline, `signal` stops
 * the waits between attempts, `shouldRetry` picks the transient failures, and
 * the awaited `onFailedAttempt` stretches the wait to a `Retry-After`. Two
 * things it does not do are done around it: a non-network `TypeError` is
 * never retried by p-retry, so every transient failure is wrapped in our own
 * error classes first; and it tries once more at the deadline after
 * shortening its wait, so `onFailedAttempt` gives up instead when the next
 * wait would end past the deadline (as the seed's backoff library does).
 *
 * @module
 */
import pRetry from "p-retry";
import { setTimeout as sleep } from "node:timers/promises";
import type { z } from "zod";
import type { ClientConfig } from "./config.ts";
import {
  ClientClosedError,
  DeadlineExceededError,
  MalformedReplyError,
  MetalApiError,
  NoReservationProvidedError,
  RaceLostError,
  type ReplyIssue,
  RequestFailedError,
  SSHKeyLabelConflictError,
} from "./errors.ts";
import { FifoGate } from "./fifo_gate.ts";
import type { EquinixMetrics, ErrorKind, Operation, RequestOutcome } from "./metrics.ts";
import { parseRetryAfter } from "./retry_after.ts";
import { ErrorBodySchema } from "./schemas.ts";

/** Options of a {@linkcode Transport}: the client's checked options, and its metrics. */
export type TransportOptions = ClientConfig & { metrics: EquinixMetrics };

/** One HTTP request of an attempt. */
export interface ApiRequest {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Below the base URL, ids filled in, e.g. `/devices/<uuid>`. */
  path: string;
  query?: Record<string, string | number>;
  /** Sent as JSON. */
  body?: unknown;
  /** Error statuses that count as success for this request (a delete's 404). */
  acceptStatuses?: readonly number[];
}

/** What an attempt uses to talk to the API. Every request waits for its turn under the API rate. */
export interface Http {
  /** Sends `request` and parses its 2xx JSON reply with `schema`. */
  json<T>(request: ApiRequest, schema: z.ZodType<T>): Promise<T>;
  /** Sends `request` and drops the reply's body; resolves on 2xx or one of `acceptStatuses`. */
  send(request: ApiRequest): Promise<void>;
}

/**
 * Serialises, paces and retries the client's calls. Every error an attempt
 * throws that is not transient ends the call at once and is passed through.
 */
export class Transport {
  readonly #options: TransportOptions;
  readonly #gate = new FifoGate();
  readonly #closing = new AbortController();
  /** performance.now() at the start of the latest HTTP request. */
  #lastStart = Number.NEGATIVE_INFINITY;

  constructor(options: TransportOptions) {
    this.#options = options;
  }

  /**
   * Runs `attempt` as one logical call: waits for every earlier call to end,
   * then calls `attempt` again after each transient failure (backoff, and
   * `Retry-After`) until it succeeds, fails otherwise, or `maxElapsedMs`
   * passes ({@linkcode DeadlineExceededError}).
   *
   * Aborting `signal` (or closing the transport) stops the wait in the
   * queue, the request in flight and the waits between attempts; the call
   * rejects with the signal's reason (or {@linkcode ClientClosedError}).
   */
  async call<T>(
    operation: Operation,
    attempt: (http: Http) => Promise<T>,
    { signal }: { signal?: AbortSignal } = {},
  ): Promise<T> {
    const { metrics } = this.#options;
    const started = performance.now();
    metrics.calls.inc({ operation });
    const callSignal = signal === undefined ? this.#closing.signal : AbortSignal.any([signal, this.#closing.signal]);
    try {
      const release = await this.#gate.acquire(callSignal);
      try {
        return await this.#retry(operation, attempt, callSignal);
      } finally {
        release();
      }
    } catch (error) {
      metrics.errors.inc({ operation, kind: errorKind(error, callSignal) });
      throw error;
    } finally {
      metrics.duration.observe({ operation }, (performance.now() - started) / 1000);
    }
  }

  /** Counts a call refused before any request (e.g. `NoReservationProvidedError`) and returns its error. */
  refuse<E extends Error>(operation: Operation, error: E): E {
    const { metrics } = this.#options;
    metrics.calls.inc({ operation });
    metrics.errors.inc({ operation, kind: errorKind(error, undefined) });
    metrics.duration.observe({ operation }, 0);
    return error;
  }

  /** Rejects the queued calls and the one in flight with {@linkcode ClientClosedError}; later calls too. */
  close(): void {
    if (this.#closing.signal.aborted) return;
    const reason = new ClientClosedError();
    this.#gate.close(reason);
    this.#closing.abort(reason);
  }

  async #retry<T>(operation: Operation, attempt: (http: Http) => Promise<T>, signal: AbortSignal): Promise<T> {
    const { maxElapsedMs, initialBackoffMs, maxBackoffMs } = this.#options;
    const http = this.#http(operation, signal);
    const started = performance.now();
    const deadline = started + maxElapsedMs;
    let attempts = 0;
    const deadlineExceeded = (cause: unknown) =>
      new DeadlineExceededError(operation, performance.now() - started, attempts, { cause });
    try {
      return await pRetry(() => {
        attempts++;
        return attempt(http);
      }, {
        retries: Number.POSITIVE_INFINITY,
        factor: 2,
        minTimeout: initialBackoffMs,
        maxTimeout: maxBackoffMs,
        // p-retry's jitter multiplies each wait by a random factor in [1, 2).
        randomize: true,
        maxRetryTime: maxElapsedMs,
        signal,
        shouldRetry: ({ error }) => isTransient(error),
        onFailedAttempt: async ({ error, retryDelay }) => {
          if (!isTransient(error)) return;
          const retryAfterMs = error instanceof MetalApiError ? error.retryAfterMs ?? 0 : 0;
          const waitMs = Math.max(retryDelay, retryAfterMs);
          // Waiting past the deadline only to give up (or to retry before Retry-After) helps nobody.
          if (performance.now() + waitMs > deadline) throw deadlineExceeded(error);
          // p-retry waits retryDelay after this returns; make the whole wait at least Retry-After.
          if (retryAfterMs > retryDelay) await abortableSleep(retryAfterMs - retryDelay, signal);
        },
      });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      // p-retry rejects with a transient error only when it ran out of time.
      if (isTransient(error)) throw deadlineExceeded(error);
      throw error;
    }
  }

  #http(operation: Operation, signal: AbortSignal): Http {
    return {
      json: async <T>(request: ApiRequest, schema: z.ZodType<T>): Promise<T> => {
        const reply = await this.#exchange(operation, request, signal);
        return parseReply(operation, reply, schema, this.#options.metrics);
      },
      send: async (request: ApiRequest): Promise<void> => {
        const reply = await this.#exchange(operation, request, signal);
        this.#options.metrics.requests.inc({ operation, outcome: outcomeOf(reply.status) });
      },
    };
  }

  /**
   * One HTTP request: waits for its turn under the API rate, sends, reads the
   * whole body within the request timeout. Resolves with 2xx replies and
   * accepted statuses; throws the error of any other reply (counted here).
   */
  async #exchange(operation: Operation, request: ApiRequest, signal: AbortSignal): Promise<Reply> {
    const { metrics, requestTimeoutMs } = this.#options;
    await this.#pace(signal);
    const shown = `${request.method} ${request.path}`;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), requestTimeoutMs);
    const failed = (kind: "network" | "unreadable", cause: unknown): unknown => {
      if (signal.aborted) {
        metrics.requests.inc({ operation, outcome: "aborted" });
        return signal.reason;
      }
      const timedOut = timeout.signal.aborted;
      metrics.requests.inc({ operation, outcome: timedOut ? "timeout" : "network" });
      return new RequestFailedError(operation, timedOut ? "timeout" : kind, shown, { cause });
    };
    let reply: Reply;
    try {
      let response: Response;
      try {
        response = await fetch(this.#url(request), {
          method: request.method,
          headers: this.#headers(request.body !== undefined),
          body: request.body === undefined ? undefined : JSON.stringify(request.body),
          signal: AbortSignal.any([signal, timeout.signal]),
        });
      } catch (error) {
        throw failed("network", error);
      }
      try {
        // Always read the body: an unread body holds the connection (and fails the test sanitizers).
        reply = { status: response.status, headers: response.headers, text: await response.text() };
      } catch (error) {
        throw failed("unreadable", error);
      }
    } finally {
      clearTimeout(timer);
    }
    const { status } = reply;
    if ((status >= 200 && status < 300) || request.acceptStatuses?.includes(status)) return reply;
    metrics.requests.inc({ operation, outcome: outcomeOf(status) });
    throw new MetalApiError(status, operation, errorMessages(reply.text), {
      retryAfterMs: parseRetryAfter(reply.headers.get("retry-after")),
    });
  }

  /** Waits until `apiRateMs` has passed since the start of the previous request, and marks this one's start. */
  async #pace(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    for (;;) {
      const waitMs = this.#lastStart + this.#options.apiRateMs - performance.now();
      if (waitMs <= 0) break;
      await abortableSleep(Math.ceil(waitMs), signal);
    }
    this.#lastStart = performance.now();
  }

  #url(request: ApiRequest): string {
    const url = `${this.#options.baseUrl}${request.path}`;
    if (request.query === undefined) return url;
    const query = new URLSearchParams(Object.entries(request.query).map(([k, v]) => [k, String(v)]));
    return `${url}?${query}`;
  }

  #headers(hasBody: boolean): Headers {
    const headers = new Headers({
      "X-Auth-Token": this.#options.token,
      "Accept": "application/json",
      "User-Agent": this.#options.userAgent,
    });
    if (hasBody) headers.set("Content-Type", "application/json");
    return headers;
  }
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

function outcomeOf(status: number): RequestOutcome {
  return status < 400 ? "ok" : status === 429 ? "429" : status >= 500 ? "5xx" : "4xx";
}

/** Retried: no usable reply, a 5xx, a 429. */
function isTransient(error: unknown): boolean {
  if (error instanceof RequestFailedError) return true;
  return error instanceof MetalApiError && (error.status >= 500 || error.status === 429);
}

function parseReply<T>(operation: Operation, reply: Reply, schema: z.ZodType<T>, metrics: EquinixMetrics): T {
  let json: unknown;
  try {
    json = JSON.parse(reply.text);
  } catch (error) {
    metrics.requests.inc({ operation, outcome: "malformed" });
    throw new MalformedReplyError(operation, reply.status, [{ path: "(root)", message: "the body is not JSON" }], {
      cause: error,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    metrics.requests.inc({ operation, outcome: "malformed" });
    throw new MalformedReplyError(operation, reply.status, parsed.error.issues.map(readableIssue), {
      cause: parsed.error,
    });
  }
  metrics.requests.inc({ operation, outcome: "ok" });
  return parsed.data;
}

function readableIssue(issue: z.core.$ZodIssue): ReplyIssue {
  const path = issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".");
  return { path, message: issue.message };
}

/** The API's messages from an error body (`errors` or `error`), else a bit of its text. */
function errorMessages(text: string): string[] {
  try {
    const body = ErrorBodySchema.safeParse(JSON.parse(text));
    if (body.success) {
      const messages = [...(body.data.errors ?? []), ...(body.data.error === undefined ? [] : [body.data.error])];
      if (messages.length > 0) return messages;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): fall through to the text.
  }
  const trimmed = text.trim();
  return trimmed === "" ? [] : [trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed];
}

function errorKind(error: unknown, signal: AbortSignal | undefined): ErrorKind {
  if (error instanceof ClientClosedError) return "closed";
  if (signal?.aborted && error === signal.reason) return "aborted";
  if (error instanceof DeadlineExceededError) return "deadline";
  if (error instanceof MalformedReplyError) return "malformed";
  if (error instanceof MetalApiError) return "api";
  if (error instanceof RaceLostError) return "race_lost";
  if (error instanceof NoReservationProvidedError) return "no_reservation";
  if (error instanceof SSHKeyLabelConflictError) return "label_conflict";
  return "other";
}

/** Sleeps `ms`; rejects with the signal's reason (not a wrapper) when it aborts. */
async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch (error) {
    throw signal.aborted ? signal.reason : error;
  }
}
