/**
 * The work pool's doorbell: after the pool's statements commit, it tells the
 * change feeds (every process LISTENing on `CHANGE_CHANNEL`) that work or
 * backoffs changed.
 *
 * The row triggers of `migrations/0003_change_feed.up.sql` notify inside the
 * writing transaction, and PostgreSQL holds one cluster-wide lock from a
 * notifying transaction's commit until its commit record is flushed. With
 * every claim and release notifying, the workers' commits, and their WAL
 * flushes, went one at a time (`migrations/0006_...`). So the work pool's
 * connections skip those NOTIFYs, and its driver rings here instead, outside
 * their transactions: at most one NOTIFY per table per `minIntervalMs`
 * however many units commit, and always one after the last. The payload
 * names the table only (the feed re-reads a whole topic anyway).
 *
 * A ring lost with its process (it died between a commit and the NOTIFY) is
 * found by the change feed's history poll (`change_feed.ts`). (Migration
 * 0006's comment predates the doorbell and names that poll alone; a
 * migration's text is fixed by its recorded checksum.)
 *
 * @module
 */
import { RefreshScheduler } from "./refresh_scheduler.ts";
import { waitAtMost } from "./wait_at_most.ts";

/** The tables whose changes by the work pool ring the doorbell: they write `work_history` too. */
export const DOORBELL_TABLES: ReadonlySet<string> = new Set(["work_slot", "work_backoff"]);

/** Options for {@linkcode startWorkDoorbell}. */
export interface WorkDoorbellOptions {
  /** Sends the NOTIFY for `table`, outside any transaction of the pool. A rejection is retried with backoff. */
  notify(table: string): Promise<void>;
  /** The shortest time between two NOTIFYs for one table. */
  minIntervalMs: number;
  /** A NOTIFY failed (`failures` in a row); it is sent again after a growing pause. */
  onError(error: unknown, failures: number): void;
}

/** A running doorbell: see the module's comment. */
export interface WorkDoorbell {
  /** Rings for those of `tables` (written by a statement that committed) behind the doorbell. */
  ring(tables: Iterable<string>): void;
  /**
   * Stops: sends the NOTIFYs still waiting for their interval at once (the
   * last ones of a stopping replica, which other processes would otherwise
   * learn of only by their history poll) and waits for them, for at most
   * `CLOSE_FLUSH_LIMIT_MS` (a database that is away must not hold up a
   * shutdown). Idempotent.
   */
  close(): Promise<void>;
}

/** How long closing waits for the last NOTIFYs. */
export const CLOSE_FLUSH_LIMIT_MS = 1_000;

export function startWorkDoorbell(o: WorkDoorbellOptions): WorkDoorbell {
  const scheduler = new RefreshScheduler<string>({
    refresh: (table) => o.notify(table),
    minIntervalMs: o.minIntervalMs,
    onError: (_table, error, failures) => o.onError(error, failures),
  });
  return {
    ring(tables) {
      for (const table of tables) if (DOORBELL_TABLES.has(table)) scheduler.mark(table);
    },
    async close() {
      await waitAtMost(scheduler.close({ flush: true }), CLOSE_FLUSH_LIMIT_MS);
    },
  };
}
