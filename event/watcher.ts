/**
 * What every Event Value's watcher does the same way: one consumer at a
 * time, waiting for a change under a caller's signal, `close()`, an ended
 * value, `backlogOnly`, predicates and `for await`. A value supplies only how
 * to take its next change and when its backlog is delivered.
 *
 * @module
 */
import {
  BacklogDoneError,
  type GetOptions,
  iterate,
  type Watcher,
  WatcherBusyError,
  WatcherClosedError,
} from "./value.ts";

/** A watcher whose value calls `wake()` when a change may be there to take. */
export abstract class WatcherBase<T> implements Watcher<T> {
  #busy = false;
  #closed = false;
  /** Set when the value ended (its signal aborted): every `get` rejects with the reason. */
  #ended: { reason: unknown } | undefined;
  /** The pending `get`'s wait. */
  #waiter: { wake(): void; fail(error: unknown): void } | undefined;

  /** The next change to deliver, or undefined when there is none yet. May throw (the `get` rejects; the change is taken). */
  protected abstract take(): { value: T } | undefined;
  /** Whether everything that was there when watching began has been delivered (`backlogOnly`). */
  protected abstract backlogDelivered(): boolean;
  /** On each `get`, before the first `take` (e.g. start reading). */
  protected beforeGet(): void {}
  /** While a `get` waits (`true`) and when it stops waiting (`false`). */
  protected waiting(_on: boolean): void {}
  /** Once, on `close()`. */
  protected onClose(): void {}

  /** Whether `close()` was called. */
  protected get closed(): boolean {
    return this.#closed;
  }

  async get(options: GetOptions<T> = {}): Promise<T> {
    if (this.#closed) throw new WatcherClosedError();
    if (this.#busy) throw new WatcherBusyError();
    options.signal?.throwIfAborted();
    this.#busy = true;
    try {
      this.beforeGet();
      while (true) {
        // Checked on every turn: a close or an end may come while a change wakes the wait.
        if (this.#closed) throw new WatcherClosedError();
        if (this.#ended) throw this.#ended.reason;
        const next = this.take();
        if (next) {
          if (!options.predicate || options.predicate(next.value)) return next.value;
          continue;
        }
        if (options.backlogOnly && this.backlogDelivered()) throw new BacklogDoneError();
        await this.#changed(options.signal);
      }
    } finally {
      this.#busy = false;
    }
  }

  /** Stops watching; a pending `get` rejects with {@linkcode WatcherClosedError}, `for await` ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
    this.#waiter?.fail(new WatcherClosedError());
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return iterate(() => this.get());
  }

  /** A change may be there to take: the pending `get` looks again. */
  protected wake(): void {
    this.#waiter?.wake();
  }

  /** The value is over: this and every later `get` rejects with `reason` (unless the watcher was closed). */
  protected end(reason: unknown): void {
    if (this.#closed) return;
    this.#ended = { reason };
    this.wake();
  }

  /** Waits for `wake()`, the signal's abort (rejects with its reason), or `close()`. */
  #changed(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // Aborted while a change woke the last wait: the listener below would never fire.
      if (signal?.aborted) return reject(signal.reason);
      const settle = () => {
        signal?.removeEventListener("abort", onAbort);
        this.#waiter = undefined;
        this.waiting(false);
      };
      const onAbort = () => {
        settle();
        reject(signal?.reason);
      };
      this.#waiter = {
        wake: () => {
          settle();
          resolve();
        },
        fail: (error) => {
          settle();
          reject(error);
        },
      };
      this.waiting(true);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
