/**
 * Keeps the fleet in a steady state: the anchor's tag makes a machine
 * ineligible for 1 s, and here a finished machine has a
 * `machine_agent_started` row, so the recycler deletes those rows once they
 * are a second old. It runs on its own READ COMMITTED connection, whose writes
 * stay out of the serializable claims' conflict detection. This is work
 * Drover pays during the bench and the anchor does not.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { RawSql } from "./raw_sql.ts";

/** Options for {@linkcode startRecycler}. */
export interface RecyclerOptions {
  /** Pause between passes. @default 100 */
  everyMs?: number;
  /** Age at which an agent-started row is deleted. @default 1000 */
  olderThanMs?: number;
}

/** What a recycler did while it ran. */
export interface RecyclerStats {
  passes: number;
  deleted: number;
  /** Total time spent in its DELETE statements. */
  busyMs: number;
}

/** A running recycler: `stop()` ends it after its current pass (and rejects if a pass failed). */
export interface Recycler {
  stop(): Promise<RecyclerStats>;
}

/** Starts deleting `machine_agent_started` rows older than `olderThanMs`, every `everyMs`. */
export function startRecycler(db: RawSql, options: RecyclerOptions = {}): Recycler {
  const everyMs = options.everyMs ?? 100;
  const olderThanMs = options.olderThanMs ?? 1000;
  const stats: RecyclerStats = { passes: 0, deleted: 0, busyMs: 0 };
  const stopping = new AbortController();
  const statement = `WITH gone AS (DELETE FROM machine_agent_started
      WHERE agent_started_at < now() - interval '${olderThanMs} milliseconds' RETURNING 1)
    SELECT count(*)::int AS n FROM gone`;
  // Kept, not floating: a failed pass ends the loop and `stop()` rethrows it.
  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const started = performance.now();
      const rows = await db.query(statement);
      stats.busyMs += performance.now() - started;
      stats.passes++;
      stats.deleted += Number(rows[0]?.n ?? 0);
      try {
        await sleep(everyMs, undefined, { signal: stopping.signal });
      } catch {
        return;
      }
    }
  })().then(() => undefined, (error: unknown) => ({ error }));
  return {
    async stop() {
      stopping.abort();
      const failed = await loop;
      if (failed) throw new Error("The recycler failed", { cause: failed.error });
      return stats;
    },
  };
}
