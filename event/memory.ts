/**
 * An Event Value held in this process.
 *
 * @module
 */
import type { SettableValue, Watcher } from "./value.ts";
import { WatcherBase } from "./watcher.ts";

/**
 * A value in memory. `set` replaces it and wakes every waiting watcher; a
 * watcher that is slow sees only the newest value (no queue builds up).
 * Before the first `set`, `get` blocks.
 */
export class MemoryValue<T> implements SettableValue<T> {
  #value: T | undefined;
  /** Bumped on every `set`; 0 means never set. */
  #version = 0;
  /** Watchers with a `get` waiting (only those: an idle watcher costs `set` nothing). */
  readonly #waiting = new Set<MemoryWatcher<T>>();

  /** Optionally starts with a value (then the first `get` of a watcher returns it). */
  constructor(...initial: [] | [T]) {
    if (initial.length === 1) this.set(initial[0]);
  }

  set(value: T): void {
    this.#value = value;
    this.#version++;
    for (const w of [...this.#waiting]) w.changed();
  }

  watch(): Watcher<T> {
    return new MemoryWatcher({
      current: () => ({ version: this.#version, value: this.#value as T }),
      waiting: (w, on) => on ? this.#waiting.add(w) : this.#waiting.delete(w),
    });
  }
}

interface Source<T> {
  current(): { version: number; value: T };
  waiting(watcher: MemoryWatcher<T>, on: boolean): void;
}

class MemoryWatcher<T> extends WatcherBase<T> {
  #seen = 0;
  readonly #source: Source<T>;

  constructor(source: Source<T>) {
    super();
    this.#source = source;
  }

  /** @internal The value was set. */
  changed(): void {
    this.wake();
  }

  protected take(): { value: T } | undefined {
    const { version, value } = this.#source.current();
    if (version <= this.#seen) return undefined;
    this.#seen = version;
    return { value };
  }

  /** The backlog is the current value, once. */
  protected backlogDelivered(): boolean {
    return true;
  }

  protected override waiting(on: boolean): void {
    this.#source.waiting(this, on);
  }
}
