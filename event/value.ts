/**
 * The Event Value contract (seed 003, Monogon's `event` package): a value
 * that changes over time, and watchers that each see its newest state,
 * never an unbounded queue of past ones.
 *
 * @module
 */

/** Options of {@linkcode Watcher.get}. */
export interface GetOptions<T> {
  /** Abort the wait: `get` rejects with the signal's reason; the watcher stays usable. */
  signal?: AbortSignal;
  /** Skip values for which this returns false (they count as seen). */
  predicate?: (value: T) => boolean;
  /**
   * Only what is already there: once the watcher has delivered the backlog
   * (the values present when it started, or since its last `get`), `get`
   * rejects with {@linkcode BacklogDoneError} instead of blocking.
   */
  backlogOnly?: boolean;
}

/** One consumer's view of a {@linkcode Value}. */
export interface Watcher<T> extends AsyncIterable<T> {
  /**
   * Resolves with the newest value this watcher has not seen yet, blocking
   * until there is one.
   * @throws {BacklogDoneError} with `backlogOnly`, when nothing is left to deliver.
   * @throws {WatcherBusyError} another `get` of this watcher is pending.
   * @throws {WatcherClosedError} the watcher was closed (also while waiting).
   */
  get(options?: GetOptions<T>): Promise<T>;
  /** Stops watching; a pending `get` rejects with {@linkcode WatcherClosedError}, `for await` ends. */
  close(): void;
}

/** A value that can be watched. Values backed by a store written elsewhere (etcd) offer only `watch`. */
export interface Value<T> {
  watch(): Watcher<T>;
}

/** A value this process owns and sets. */
export interface SettableValue<T> extends Value<T> {
  set(value: T): void;
}

/** `get({ backlogOnly: true })` found nothing left of the backlog. */
export class BacklogDoneError extends Error {
  constructor(options?: ErrorOptions) {
    super("The backlog is done: no value is left to deliver without waiting", options);
    this.name = "BacklogDoneError";
  }
}

/** A second `get` on a watcher while one is pending: each watcher has one consumer. */
export class WatcherBusyError extends Error {
  constructor() {
    super("Another get() of this watcher is still pending: a watcher has one consumer; use watch() for another");
    this.name = "WatcherBusyError";
  }
}

/** The watcher was closed. */
export class WatcherClosedError extends Error {
  constructor() {
    super("The watcher is closed");
    this.name = "WatcherClosedError";
  }
}

/**
 * Adapts a watcher's `get` into `for await`: yields until the watcher is
 * closed (and rethrows any other error).
 */
export async function* iterate<T>(get: () => Promise<T>): AsyncGenerator<T, void, undefined> {
  while (true) {
    try {
      yield await get();
    } catch (error) {
      if (error instanceof WatcherClosedError) return;
      throw error;
    }
  }
}
