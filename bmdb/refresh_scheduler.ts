/**
 * Coalesces "this changed" marks into refreshes: the change feed's throttle.
 *
 * @module
 */

/** Options for a {@linkcode RefreshScheduler}. */
export interface RefreshSchedulerOptions<T extends string> {
  /** Reads a topic again and publishes it. A rejection is retried with backoff. */
  refresh(topic: T): Promise<void>;
  /**
   * The shortest time between the starts of two refreshes of one topic. A
   * refresh that took long spaces the next further out (4× its duration),
   * so the feed never keeps the database busy with one topic more than a
   * fifth of the time.
   */
  minIntervalMs: number;
  /** A refresh failed (`failures` in a row); it runs again after a growing pause. */
  onError(topic: T, error: unknown, failures: number): void;
}

interface TopicState {
  dirty: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  running: Promise<void> | undefined;
  lastStart: number;
  lastDurationMs: number;
  failures: number;
}

const MAX_RETRY_MS = 10_000;

/**
 * Runs `refresh(topic)` for marked topics: at most one refresh of a topic at
 * a time and one per interval, however many marks arrive; a mark that
 * arrives while a refresh runs (or waits) gets one more refresh after it,
 * so the last change always lands.
 */
export class RefreshScheduler<T extends string> {
  readonly #options: RefreshSchedulerOptions<T>;
  readonly #topics = new Map<T, TopicState>();
  #closed = false;

  constructor(options: RefreshSchedulerOptions<T>) {
    this.#options = options;
  }

  #state(topic: T): TopicState {
    let state = this.#topics.get(topic);
    if (!state) {
      state = {
        dirty: false,
        timer: undefined,
        running: undefined,
        lastStart: -Infinity,
        lastDurationMs: 0,
        failures: 0,
      };
      this.#topics.set(topic, state);
    }
    return state;
  }

  /** Asks for a refresh of `topic` that starts after this call. */
  mark(topic: T): void {
    if (this.#closed) return;
    const state = this.#state(topic);
    state.dirty = true;
    this.#schedule(topic, state);
  }

  #schedule(topic: T, state: TopicState): void {
    if (this.#closed || !state.dirty || state.running || state.timer !== undefined) return;
    const spacingMs = state.failures > 0
      ? Math.min(MAX_RETRY_MS, 250 * 2 ** (state.failures - 1))
      : Math.max(this.#options.minIntervalMs, 4 * state.lastDurationMs);
    const waitMs = Math.max(0, state.lastStart + spacingMs - performance.now());
    state.timer = setTimeout(() => {
      state.timer = undefined;
      state.running = this.#run(topic, state);
    }, waitMs);
  }

  async #run(topic: T, state: TopicState): Promise<void> {
    // Cleared before reading: a change committed after this read began marks it again.
    state.dirty = false;
    state.lastStart = performance.now();
    try {
      await this.#options.refresh(topic);
      state.failures = 0;
    } catch (error) {
      state.failures++;
      state.dirty = true;
      if (!this.#closed) this.#options.onError(topic, error, state.failures);
    } finally {
      state.lastDurationMs = performance.now() - state.lastStart;
      state.running = undefined;
      this.#schedule(topic, state);
    }
  }

  /**
   * Stops: cancels waiting refreshes and waits for running ones. With
   * `flush`, a topic still marked gets one last refresh now instead (no
   * retry if it fails). Idempotent.
   */
  async close(options: { flush?: boolean } = {}): Promise<void> {
    this.#closed = true;
    const settling: Promise<void>[] = [];
    for (const [topic, state] of this.#topics) {
      clearTimeout(state.timer);
      state.timer = undefined;
      settling.push(this.#settle(topic, state, options.flush ?? false));
    }
    await Promise.all(settling);
  }

  async #settle(topic: T, state: TopicState, flush: boolean): Promise<void> {
    await state.running;
    if (flush && state.dirty && !state.running) {
      state.running = this.#run(topic, state);
      await state.running;
    }
  }
}
