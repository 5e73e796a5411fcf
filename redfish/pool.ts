/**
 * {@linkcode RedfishPool}: the clients of many BMCs, one per BMC, sharing an
 * in-flight limit and the metrics.
 *
 * @module
 */
import {
  type BmcEndpoint,
  endpointOrigin,
  type PoolConfig,
  poolConfig,
  type RedfishPoolOptions,
  sameLogin,
} from "./config.ts";
import { ClientClosedError } from "./errors.ts";
import { RedfishClient } from "./client.ts";
import { FifoSemaphore } from "./fifo_semaphore.ts";
import { redfishMetrics } from "./metrics.ts";
import { type PoolShared, Transport } from "./transport.ts";

/**
 * Clients of many BMCs: one client per BMC origin, at most `maxInFlight`
 * requests in flight over all of them, metrics on one registry. A BMC's own
 * queue waits for its turn before it takes one of the shared slots, so one
 * slow BMC cannot hold slots the others need.
 *
 * Close the pool when done ({@linkcode close}, or `await using`): it deletes
 * every session and closes every socket.
 */
export class RedfishPool {
  readonly #config: PoolConfig;
  readonly #shared: PoolShared;
  readonly #clients = new Map<string, { client: RedfishClient; endpoint: BmcEndpoint }>();
  /** Closes of replaced clients, still running. */
  readonly #retiring = new Set<Promise<void>>();
  #closed: Promise<void> | undefined;

  /**
   * A pool with no clients yet; {@linkcode client} makes them.
   * @throws {RangeError} when an option is out of range.
   */
  constructor(options: RedfishPoolOptions = {}) {
    this.#config = poolConfig(options);
    this.#shared = {
      config: this.#config,
      metrics: redfishMetrics(this.#config.registry),
      slots: new FifoSemaphore(this.#config.maxInFlight),
      counts: { queued: 0, sessionsOpen: 0 },
    };
  }

  /** HTTP requests in flight now, over all BMCs. */
  get inFlight(): number {
    return this.#shared.slots.held;
  }

  /** Requests waiting now: for their BMC's turn, or for a slot. */
  get queued(): number {
    return this.#shared.counts.queued;
  }

  /** Redfish sessions the clients hold now. */
  get sessionsOpen(): number {
    return this.#shared.counts.sessionsOpen;
  }

  /**
   * The client of `endpoint`'s BMC. The same origin, credentials and TLS
   * mode give the same client. The same origin with other credentials or
   * another TLS mode gives a new client, which replaces the old one: the old
   * one is closed (its session deleted) in the background, and its calls
   * reject with `ClientClosedError`.
   *
   * @throws {TypeError} when `endpoint.url` is not an http(s) origin.
   * @throws {ClientClosedError} once the pool is closed.
   */
  client(endpoint: BmcEndpoint): RedfishClient {
    if (this.#closed !== undefined) throw new ClientClosedError(undefined);
    const origin = endpointOrigin(endpoint);
    const existing = this.#clients.get(origin);
    if (existing !== undefined && sameLogin(existing.endpoint, endpoint)) return existing.client;
    if (existing !== undefined) {
      this.#clients.delete(origin);
      const retiring = existing.client.close();
      this.#retiring.add(retiring);
      const forget = () => void this.#retiring.delete(retiring);
      retiring.then(forget, forget);
    }
    // A copy: a caller changing its object later must not change what this client logs in with.
    const copy: BmcEndpoint = { ...endpoint };
    const { metrics } = this.#shared;
    const client: RedfishClient = new RedfishClient({
      transport: new Transport(origin, copy, this.#shared),
      metrics,
      requestTimeoutMs: this.#config.requestTimeoutMs,
      onClosed: () => {
        if (this.#clients.get(origin)?.client === client) this.#clients.delete(origin);
        metrics.clients.dec();
      },
    });
    this.#clients.set(origin, { client, endpoint: copy });
    metrics.clients.inc();
    return client;
  }

  /**
   * Closes every client: calls waiting or in flight reject with
   * `ClientClosedError`, every session is DELETEd (errors ignored, all
   * within `timeoutMs`, through the shared in-flight limit), every socket
   * closes. Later calls reject with `ClientClosedError`. Idempotent.
   *
   * @param options.timeoutMs How long the session deletes may take in all. @default {10_000}
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(options.timeoutMs ?? 10_000);
    return this.#closed;
  }

  /** `await using pool = new RedfishPool()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(timeoutMs: number): Promise<void> {
    const signal = AbortSignal.timeout(timeoutMs);
    const clients = [...this.#clients.values()].map(({ client }) => client.close({ signal }));
    await Promise.all([...clients, ...this.#retiring]);
    this.#shared.slots.close(new ClientClosedError(undefined));
  }
}
