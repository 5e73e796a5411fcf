/**
 * An Event Value held in this process.
 *
 * @module
 */
import {
  BacklogDoneError,
  type GetOptions,
  iterate,
  type SettableValue,
  type Watcher,
  WatcherBusyError,
  WatcherClosedError,
} from "./value.ts";

interface Pending {
  wake(): void;
}

/**
 * A value in memory. `set` replaces it and wakes every waiting watcher; a
 * watcher that is slow sees only the newest value (no queue builds up).
 * Before the first `set`, `get` blocks.
 */
export class MemoryValue<T> implements SettableValue<T> {
  #value: T | undefined;
  /** Bumped on every `set`; 0 means never set. */
  #version = 0;
  readonly #waiting = new Set<Pending>();

  /** Optionally starts with a value (then the first `get` of a watcher returns it). */
  constructor(...initial: [] | [T]) {
    if (initial.length === 1) this.set(initial[0]);
  }

  set(value: T): void {
    this.#value = value;
    this.#version++;
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const w of waiting) w.wake();
  }

  watch(): Watcher<T> {
    return new MemoryWatcher({
      current: () => ({ version: this.#version, value: this.#value as T }),
      wait: (p) => this.#waiting.add(p),
      unwait: (p) => this.#waiting.delete(p),
    });
  }
}

interface Source<T> {
  current(): { version: number; value: T };
  wait(p: Pending): void;
  unwait(p: Pending): void;
}

class MemoryWatcher<T> implements Watcher<T> {
  #seen = 0;
  #busy = false;
  #closed = false;
  #pending: (Pending & { fail(error: unknown): void }) | undefined;
  readonly #source: Source<T>;

  constructor(source: Source<T>) {
    this.#source = source;
  }

  async get(options: GetOptions<T> = {}): Promise<T> {
    if (this.#closed) throw new WatcherClosedError();
    if (this.#busy) throw new WatcherBusyError();
    options.signal?.throwIfAborted();
    this.#busy = true;
    try {
      while (true) {
        const { version, value } = this.#source.current();
        if (version > this.#seen) {
          this.#seen = version;
          if (!options.predicate || options.predicate(value)) return value;
          continue;
        }
        if (options.backlogOnly) throw new BacklogDoneError();
        await this.#next(options.signal);
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Waits for the next `set`, an abort, or `close`. */
  #next(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#source.unwait(pending);
        this.#pending = undefined;
        reject(signal?.reason);
      };
      const pending = {
        wake: () => {
          signal?.removeEventListener("abort", onAbort);
          this.#pending = undefined;
          resolve();
        },
        fail: (error: unknown) => {
          signal?.removeEventListener("abort", onAbort);
          this.#source.unwait(pending);
          this.#pending = undefined;
          reject(error);
        },
      };
      this.#pending = pending;
      this.#source.wait(pending);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending?.fail(new WatcherClosedError());
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return iterate(() => this.get());
  }
}
