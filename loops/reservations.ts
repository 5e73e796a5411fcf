/**
 * The reservations publisher: lists the provider's hardware reservations on
 * a slow schedule and publishes them for the dashboard as an Event Value.
 *
 * Two stores: a {@linkcode MemoryValue} holding the whole list (one process),
 * or an etcd key range, one key per reservation (`<prefix><id>` = JSON), so
 * every replica's dashboard can follow it with an `EtcdValue` over the
 * range. The etcd store writes only keys whose value changed and deletes the
 * keys of reservations that are gone, so watchers see real changes only.
 *
 * Listing reservations is expensive (every page, each spaced by the API
 * rate), hence the slow default schedule.
 *
 * @module
 */
import type { Etcd3 } from "etcd3";
import type { Logger } from "../bmdb/mod.ts";
import type { EquinixClient, HardwareReservation } from "../equinix/mod.ts";
import { EtcdValue, MemoryValue, WatcherClosedError } from "../event/mod.ts";
import { runEvery } from "./schedule.ts";

/** What the dashboard shows of one reservation. */
export interface ReservationView {
  id: string;
  plan: string | null;
  metro: string | null;
  provisionable: boolean;
  /** The device on it, if any. */
  deviceId: string | null;
  /** When the provider was read (ISO 8601). */
  readAt: string;
}

/** Where published reservations go. */
export interface ReservationStore {
  /**
   * Replaces what was published with `views`. Once `signal` aborts it
   * rejects with its reason at once (writes under way may still land).
   */
  publish(views: readonly ReservationView[], signal?: AbortSignal): Promise<void>;
}

/** Turns the API's reservation into the dashboard's view. */
export function toReservationView(r: HardwareReservation, readAt: Date): ReservationView {
  return {
    id: r.id,
    plan: r.plan?.slug ?? null,
    metro: r.facility?.metro?.code ?? null,
    provisionable: r.provisionable ?? false,
    deviceId: r.device?.id ?? null,
    readAt: readAt.toISOString(),
  };
}

/** The whole list in a MemoryValue, in id order. */
export function memoryReservationStore(value: MemoryValue<readonly ReservationView[]>): ReservationStore {
  return {
    publish(views) {
      value.set([...views].sort((a, b) => a.id.localeCompare(b.id)));
      return Promise.resolve();
    },
  };
}

/** The default etcd prefix of the reservation keys. */
export const RESERVATIONS_PREFIX = "/drover/reservations/";

/** The etcd range end of every key under `prefix` (the prefix with its last byte incremented). */
export function prefixRangeEnd(prefix: string): string {
  if (prefix === "") throw new RangeError("Cannot compute a range end: prefix must not be empty");
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** Reads a reservation key written by {@linkcode etcdReservationStore}: its view, or null when deleted. */
export function decodeReservationKey(
  prefix = RESERVATIONS_PREFIX,
): (key: Uint8Array, value: Uint8Array | null) => { id: string; view: ReservationView | null } {
  const decoder = new TextDecoder();
  return (key, value) => {
    const id = decoder.decode(key).slice(prefix.length);
    return { id, view: value === null ? null : JSON.parse(decoder.decode(value)) as ReservationView };
  };
}

/**
 * The published reservations as one list, followed from etcd (what
 * {@linkcode etcdReservationStore} writes, by whichever replica): a
 * MemoryValue kept current until `signal` aborts.
 */
export function followEtcdReservations(
  client: Etcd3,
  signal: AbortSignal,
  prefix = RESERVATIONS_PREFIX,
): MemoryValue<readonly ReservationView[]> {
  const list = new MemoryValue<readonly ReservationView[]>();
  list.set([]);
  const value = new EtcdValue({
    client,
    key: prefix,
    rangeEnd: prefixRangeEnd(prefix),
    decoder: decodeReservationKey(prefix),
    signal,
  });
  const views = new Map<string, ReservationView>();
  (async () => {
    const watcher = value.watch();
    signal.addEventListener("abort", () => watcher.close(), { once: true });
    for (;;) {
      let update: { id: string; view: ReservationView | null };
      try {
        update = await watcher.get();
      } catch (error) {
        if (signal.aborted || error instanceof WatcherClosedError) return;
        continue; // a key that does not decode: skip it, keep following
      }
      if (update.view) views.set(update.id, update.view);
      else views.delete(update.id);
      list.set([...views.values()].sort((a, b) => a.id.localeCompare(b.id)));
    }
  })();
  return list;
}

/**
 * One key per reservation under `prefix`. The `readAt` field changes on
 * every read, so it is left out of the comparison: a key is rewritten only
 * when something else about the reservation changed.
 */
export function etcdReservationStore(client: Etcd3, prefix = RESERVATIONS_PREFIX): ReservationStore {
  const withoutReadAt = (json: string) => {
    const { readAt: _, ...rest } = JSON.parse(json) as ReservationView;
    return JSON.stringify(rest);
  };
  return {
    async publish(views, signal) {
      signal?.throwIfAborted();
      await untilAborted(write(views), signal);
    },
  };

  async function write(views: readonly ReservationView[]): Promise<void> {
    const current = await client.getAll().prefix(prefix).strings();
    const wanted = new Map(views.map((v) => [prefix + v.id, JSON.stringify(v)]));
    const ops: Promise<unknown>[] = [];
    for (const [key, json] of wanted) {
      const old = current[key];
      if (old === undefined || withoutReadAt(old) !== withoutReadAt(json)) {
        ops.push(client.put(key).value(json).exec());
      }
    }
    for (const key of Object.keys(current)) {
      if (!wanted.has(key)) ops.push(client.delete().key(key).exec());
    }
    await Promise.all(ops);
  }
}

/**
 * Settles with `promise`, or rejects with the signal's reason once it aborts
 * (the promise is then left to end on its own): an etcd call retried on every
 * member can take longer than a shutdown may.
 */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  promise.catch(() => {}); // it may reject after the abort, with nobody listening
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export interface ReservationsPublisherOptions {
  /** Time between reads. @default 60_000 */
  intervalMs?: number;
  logger: Logger;
}

export class ReservationsPublisher {
  readonly #client: EquinixClient;
  readonly #store: ReservationStore;
  readonly #intervalMs: number;
  readonly #logger: Logger;

  constructor(client: EquinixClient, store: ReservationStore, options: ReservationsPublisherOptions) {
    this.#client = client;
    this.#store = store;
    this.#intervalMs = options.intervalMs ?? 60_000;
    if (!(this.#intervalMs > 0)) {
      throw new RangeError(`Cannot publish reservations: intervalMs must be > 0: current value is ${this.#intervalMs}`);
    }
    this.#logger = options.logger;
  }

  /** Reads the reservations once and publishes them; returns what was published. */
  async publishOnce(signal?: AbortSignal): Promise<ReservationView[]> {
    const reservations = await this.#client.listReservations({ signal });
    const readAt = new Date();
    const views = reservations.map((r) => toReservationView(r, readAt));
    await this.#store.publish(views, signal);
    return views;
  }

  /** Publishes every interval until `signal` aborts; a failed read keeps the last published list and is logged. */
  async run(signal: AbortSignal): Promise<void> {
    await runEvery(this.#intervalMs, signal, (s) => this.publishOnce(s), (error) => {
      this.#logger.warn("could not publish reservations; keeping the last list", { error });
    });
  }
}
