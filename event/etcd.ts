/**
 * An Event Value that follows one etcd key, or a key range (seed 003,
 * Monogon's `event/etcd`).
 *
 * @module
 */
import type { Etcd3, IKeyValue, IRangeResponse } from "etcd3";
import { setTimeout as sleep } from "node:timers/promises";
import { KeyBacklog, type KeyUpdate } from "./key_backlog.ts";
import { type Value, WatcherClosedError } from "./value.ts";
import { WatcherBase } from "./watcher.ts";

/** Turns one key's bytes into a value; `value` is null when the key was deleted. */
export type EtcdDecoder<T> = (key: Uint8Array, value: Uint8Array | null) => T;

/** Options of {@linkcode EtcdValue}. */
export interface EtcdValueOptions<T> {
  client: Etcd3;
  /** The key, or the start of the range (inclusive). */
  key: string;
  /**
   * The end of the range (exclusive), as in etcd: `key: "machines/"`,
   * `rangeEnd: "machines0"` is every key under `machines/`. Without it, the
   * value is the one key.
   */
  rangeEnd?: string;
  decoder: EtcdDecoder<T>;
  /** Stops every watcher of this value: their waiting and later `get`s reject with its reason. */
  signal?: AbortSignal;
}

/** The decoder threw for a key; `get` rejects with this, and the next `get` goes on with the next update. */
export class EtcdDecodeError extends Error {
  constructor(readonly key: string, options: ErrorOptions) {
    super(`Cannot decode the value of etcd key ${JSON.stringify(key)}: ${describe(options.cause)}`, options);
    this.name = "EtcdDecodeError";
  }
}

/** The initial read backs off exponentially with jitter, between these bounds. */
const READ_BACKOFF = { initialMs: 100, maximumMs: 2_000 };
/** A read that hangs (a partition) is abandoned and retried after this long. */
const READ_TIMEOUT_MS = 10_000;

/**
 * Follows one etcd key, or the range `[key, rangeEnd)`. etcd is written by
 * its owners, so there is no `set`.
 *
 * Each watcher reads the key(s) on its first `get` (retried with backoff
 * until the value's signal aborts or the watcher closes), then watches from
 * the revision after that read. A single-key watcher returns the newest
 * value; a ranged one returns one key per `get`, the initial backlog in key
 * order, then changes in arrival order. A key that does not exist makes `get`
 * wait until it is written; a deletion is delivered as `decoder(key, null)`.
 * Changes are compacted per key and changes to the current value are dropped,
 * so a slow watcher holds at most one pending value per key. When the watch
 * is lost (connection, etcd restart, compaction), the watcher reads again and
 * delivers only the keys that differ from what it delivered, so the final
 * state always arrives.
 *
 * @throws {RangeError} `rangeEnd` does not sort after `key`, or `key` is empty.
 */
export class EtcdValue<T> implements Value<T> {
  readonly #source: Source<T>;

  constructor(options: EtcdValueOptions<T>) {
    const { client, key, rangeEnd, decoder, signal } = options;
    if (key === "") throw new RangeError("Cannot watch etcd: key must not be empty");
    if (rangeEnd !== undefined && compareBytes(encoder.encode(rangeEnd), encoder.encode(key)) <= 0) {
      throw new RangeError(
        `Cannot watch etcd range: rangeEnd must sort after key: key is ${JSON.stringify(key)}, ` +
          `rangeEnd is ${JSON.stringify(rangeEnd)}`,
      );
    }
    this.#source = { client, key, rangeEnd, decoder, signal };
  }

  /** A new watcher. It holds its own etcd watch from its first `get` until `close()`. */
  watch(): EtcdWatcher<T> {
    return new EtcdWatcher(this.#source);
  }
}

interface Source<T> {
  client: Etcd3;
  key: string;
  rangeEnd: string | undefined;
  decoder: EtcdDecoder<T>;
  signal: AbortSignal | undefined;
}

/**
 * A watcher of an {@linkcode EtcdValue}. `await using` closes it and waits
 * for its background task to end. Besides the {@linkcode WatcherBase} rules,
 * `get` rejects with {@linkcode EtcdDecodeError} when the decoder threw for the
 * key taken (the next `get` goes on), and with the reason of the value's
 * signal once it aborted.
 */
export class EtcdWatcher<T> extends WatcherBase<T> implements AsyncDisposable {
  readonly #source: Source<T>;
  readonly #backlog = new KeyBacklog();
  readonly #stop = new AbortController();
  /** The background read + watch loop, from the first `get` on. */
  #task: Promise<void> | undefined;
  /** The first read is in the backlog (what `backlogOnly` waits for). */
  #synced = false;
  #reads = 0;
  /** The etcd revision the backlog reflects. */
  #revision = 0n;

  /** @internal Made by {@linkcode EtcdValue.watch}. */
  constructor(source: Source<T>) {
    super();
    this.#source = source;
  }

  /** Keys with a change this watcher has not delivered yet (for tests and metrics). */
  get pendingCount(): number {
    return this.#backlog.size;
  }

  /** Successful reads of the key(s): 1 after the start, one more per re-established watch (for tests and metrics). */
  get readCount(): number {
    return this.#reads;
  }

  /** The etcd revision this watcher's state reflects: of its last read or change seen (for tests and metrics). */
  get revision(): bigint {
    return this.#revision;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#task;
  }

  protected take(): { value: T } | undefined {
    const next = this.#backlog.take();
    return next ? { value: this.#decode(next) } : undefined;
  }

  protected backlogDelivered(): boolean {
    return this.#synced;
  }

  protected override beforeGet(): void {
    this.#start();
  }

  /** The etcd watch is canceled. */
  protected override onClose(): void {
    this.#stop.abort(new WatcherClosedError());
  }

  #decode({ key, value }: KeyUpdate): T {
    try {
      return this.#source.decoder(key, value);
    } catch (cause) {
      throw new EtcdDecodeError(new TextDecoder().decode(key), { cause });
    }
  }

  #start(): void {
    if (this.#task) return;
    const signal = this.#source.signal ? AbortSignal.any([this.#source.signal, this.#stop.signal]) : this.#stop.signal;
    // #run only ends when its signal aborts; after a close, end() does nothing.
    this.#task = this.#run(signal).catch((reason) => this.end(signal.aborted ? signal.reason : reason));
  }

  /** Read, then watch from the next revision; again from a fresh read whenever the watch is lost. */
  async #run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (true) {
      signal.throwIfAborted();
      if (failures > 0) await sleep(backoffMs(failures), undefined, { signal });
      let revision: string;
      try {
        revision = await this.#read(signal);
      } catch {
        if (signal.aborted) throw signal.reason;
        // etcd is down or restarting (etcd3's circuit breaker then fails calls fast for a few seconds).
        failures++;
        continue;
      }
      const connected = await this.#follow(revision, signal);
      // A watch that never got established counts as a failure, so a broken stream does not spin.
      failures = connected ? 0 : failures + 1;
    }
  }

  /** Reads the key(s) and records what differs from what the watcher knows; returns the read's revision. */
  async #read(signal: AbortSignal): Promise<string> {
    const { client, key, rangeEnd } = this.#source;
    const callOptions = { deadline: Date.now() + READ_TIMEOUT_MS };
    const request: Promise<IRangeResponse> = rangeEnd === undefined
      ? client.get(key).options(callOptions).exec()
      : client.getAll().inRange({ start: key, end: rangeEnd }).options(callOptions).exec();
    const response = await abortable(request, signal);
    this.#backlog.reconcile(response.kvs.map((kv) => ({ key: kv.key, value: kv.value })));
    this.#reads++;
    this.#revision = BigInt(response.header.revision);
    this.#synced = true;
    this.wake();
    return response.header.revision;
  }

  /**
   * Watches from the revision after `revision`, recording each change as it
   * arrives. Resolves when the watch is lost or the signal aborts, with
   * whether etcd had established it.
   */
  #follow(revision: string, signal: AbortSignal): Promise<boolean> {
    const { client, key, rangeEnd } = this.#source;
    const builder = client.watch().startRevision(String(BigInt(revision) + 1n));
    if (rangeEnd === undefined) builder.key(key);
    else builder.inRange({ start: key, end: rangeEnd });

    return new Promise<boolean>((resolve) => {
      // watcher() attaches at once, but etcd3 emits nothing before this task ends, so these
      // listeners see every event. They stay attached after the end (an EventEmitter throws
      // on an unheard "error"), and `done` mutes them.
      const watch = builder.watcher();
      let connected = false;
      let done = false;
      const end = () => {
        done = true;
        signal.removeEventListener("abort", onAbort);
        resolve(connected);
      };
      const onAbort = () => {
        if (done) return;
        end();
        // Not awaited: it settles once etcd confirms, which never happens if etcd is gone.
        watch.cancel().catch(() => {});
      };
      const record = (kv: IKeyValue, value: Uint8Array | null) => {
        if (done) return;
        this.#revision = BigInt(kv.mod_revision);
        this.#backlog.apply(kv.key, value);
        if (this.#backlog.size > 0) this.wake();
      };
      watch.on("connected", () => {
        connected = true;
      });
      watch.on("put", (kv) => record(kv, kv.value));
      watch.on("delete", (kv) => record(kv, null));
      watch.on("disconnected", () => {
        if (done) return;
        end();
        // etcd3 would resume this watch by itself from the last revision it saw; a fresh read
        // instead never misses a state. It is detached at once here (etcd3 is between streams).
        watch.cancel().catch(() => {});
      });
      watch.on("error", () => {
        // Canceled by etcd (e.g. its start revision was compacted). etcd3 has already dropped
        // it, and cancel() would never settle: just start over from a fresh read.
        if (!done) end();
      });
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }
}

const encoder = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Jittered exponential backoff: between half and all of min(maximum, initial * 2^(failures-1)). */
function backoffMs(failures: number): number {
  const ceiling = Math.min(READ_BACKOFF.maximumMs, READ_BACKOFF.initialMs * 2 ** (failures - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Settles with `promise`, or rejects with the signal's reason once it aborts (the promise is then ignored). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
