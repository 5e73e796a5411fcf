/**
 * Change detection where the database has no NOTIFY (CockroachDB): one cheap
 * statement per interval ({@linkcode pollForChanges}) whose answer changes
 * when a table behind the feed's values changed.
 *
 * What it cannot see: an operator's cancel request before the owner releases
 * the work (no history row until then; the owner does so within a heartbeat),
 * and a history row that commits more than the watermark window after its id
 * was taken. A full re-read every `resyncMs` covers both.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Driver } from "./driver.ts";
import { type ChangeFingerprint, pollForChanges, pollHistoryForChanges, toChangeFingerprint } from "./queries_feed.ts";
import { render } from "./sql.ts";

/** Options for {@linkcode startChangePoller}. */
export interface ChangePollerOptions {
  driver: Driver;
  /** Between two polls. */
  intervalMs: number;
  /** How long a history id may take from being handed out to being committed and still be seen. */
  windowMs: number;
  /** Between full re-reads (every table reported changed; with `historyOnly`, work and backoffs). */
  resyncMs: number;
  /**
   * Watch `work_history` only (for work and backoffs), where NOTIFY reports
   * the rest ({@linkcode pollHistoryForChanges}).
   */
  historyOnly?: boolean;
  /** Tables that changed, named as the NOTIFY payloads name them. */
  onChange(tables: readonly string[]): void;
  onError(error: unknown): void;
  /** Stops polling. */
  signal: AbortSignal;
}

export const ALL_TABLES: readonly string[] = ["machines", "sessions", "work_slot", "work_backoff"];
/** The tables whose changes write `work_history`. */
const HISTORY_TABLES: readonly string[] = ["work_slot", "work_backoff"];

/**
 * Watermarks over `work_history` ids: `since` trails the highest id seen by
 * about `windowMs`, and the count of rows above it changes whenever a row
 * above it commits, even one whose id is lower than ids already seen.
 */
export class HistoryWatermark {
  #since: string | null = null;
  #countAboveSince = 0;
  /** Highest ids seen, oldest first: where `since` moves to once they are `windowMs` old. */
  #seen: { at: number; max: string }[] = [];
  readonly #windowMs: number;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** The watermarks for the next poll: `since` to compare, `next` to count from afterwards. */
  bounds(now: number): { since: string | null; next: string | null } {
    while (this.#seen.length > 1 && this.#seen[1].at <= now - this.#windowMs) this.#seen.shift();
    const old = this.#seen[0];
    const next = old && old.at <= now - this.#windowMs ? old.max : this.#since;
    return { since: this.#since, next };
  }

  /** Takes a poll's answer (made with `bounds`); returns whether history changed since the previous one. */
  update(now: number, bounds: { since: string | null; next: string | null }, fp: ChangeFingerprint): boolean {
    if (fp.historyMax !== null) this.#seen.push({ at: now, max: fp.historyMax });
    if (this.#since === null) {
      // First poll: nothing above the highest id yet. (An empty history starts from 0.)
      this.#since = fp.historyMax ?? "0";
      this.#countAboveSince = 0;
      return false;
    }
    const changed = fp.historyAboveSince !== this.#countAboveSince;
    this.#since = bounds.next ?? this.#since;
    this.#countAboveSince = bounds.next === bounds.since ? fp.historyAboveSince : fp.historyAboveNext;
    return changed;
  }
}

/**
 * Polls once (the baseline, which reports nothing), then keeps polling in
 * the background until `signal` aborts. `done` settles when the loop has
 * stopped; it never rejects.
 * @throws the first poll's error.
 */
export async function startChangePoller(o: ChangePollerOptions): Promise<{ done: Promise<void> }> {
  const watermark = new HistoryWatermark(o.windowMs);
  let previous: ChangeFingerprint | undefined;
  let lastResync = performance.now();

  const poll = async () => {
    const now = performance.now();
    const bounds = watermark.bounds(now);
    const { text, params } = render(o.historyOnly ? pollHistoryForChanges(bounds) : pollForChanges(bounds));
    const fp = toChangeFingerprint(await o.driver.query(text, params, "read committed"));
    const historyChanged = watermark.update(now, bounds, fp);
    const tables: string[] = [];
    if (previous && previous.machines !== fp.machines) tables.push("machines");
    if (previous && (previous.sessions !== fp.sessions || previous.newestSession !== fp.newestSession)) {
      tables.push("sessions");
    }
    if (historyChanged) tables.push(...HISTORY_TABLES);
    previous = fp;
    if (now - lastResync >= o.resyncMs) {
      lastResync = now;
      o.onChange(o.historyOnly ? HISTORY_TABLES : ALL_TABLES);
    } else if (tables.length > 0) {
      o.onChange(tables);
    }
  };

  await poll();
  const done = (async () => {
    while (!o.signal.aborted) {
      try {
        await sleep(o.intervalMs, undefined, { signal: o.signal });
      } catch {
        return; // aborted
      }
      try {
        await poll();
      } catch (error) {
        if (!o.signal.aborted) o.onError(error);
      }
    }
  })();
  return { done };
}
