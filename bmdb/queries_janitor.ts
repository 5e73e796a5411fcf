/**
 * History retention: the janitor's statement that deletes old history.
 * Internal to the BMDB; `Bmdb.pruneHistory` runs it.
 *
 * @module
 */
import { type Sql, sql } from "./sql.ts";

/**
 * Deletes, of the `batchSize` oldest history rows (by `history_id`, the
 * primary key: no other index is needed, and none is paid for by every
 * claim), those older than `olderThanSeconds`. `history_id` follows commit
 * order closely, so repeating until a batch deletes fewer than `batchSize`
 * removes everything past retention while each statement stays short.
 * Returns `deleted`.
 */
export function pruneHistoryBatch(p: { olderThanSeconds: number; batchSize: number }): Sql {
  return sql`WITH batch AS (
      SELECT history_id, timestamp FROM work_history ORDER BY history_id LIMIT ${p.batchSize}::int),
    gone AS (
      DELETE FROM work_history WHERE history_id IN (
        SELECT history_id FROM batch WHERE timestamp < now() - ${p.olderThanSeconds}::bigint * interval '1 second')
      RETURNING 1)
    SELECT (SELECT count(*) FROM gone)::int AS deleted`;
}
