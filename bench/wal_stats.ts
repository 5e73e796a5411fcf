/**
 * WAL written per unit (cluster-wide, so only while one thing runs on the
 * server): bytes, from the WAL position (exact); records, full-page images
 * and flushes (`wal_sync`, each an fsync with fsync on) from `pg_stat_wal`,
 * which a busy backend adds its counts to about once a second, so over a
 * window of several seconds the two ends' lag cancels out. With fsync on, a
 * commit waits for its flush; flushes per unit below 1 mean commits shared
 * them (group commit).
 *
 * @module
 */
import { median } from "./percentile.ts";
import type { RawSql } from "./raw_sql.ts";

/** Cumulative counters of the server's WAL. */
export interface WalCounters {
  records: number;
  fullPageImages: number;
  bytes: number;
  syncs: number;
}

/** Per unit of work over a window. */
export type WalPerUnit = WalCounters;

/** Reads the server's WAL counters (PostgreSQL 14 and later). */
export async function readWal(db: RawSql): Promise<WalCounters> {
  const [row] = await db.query(
    "SELECT wal_records::float8 AS records, wal_fpi::float8 AS fpi, wal_sync::float8 AS syncs, " +
      "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 AS bytes FROM pg_stat_wal",
  );
  return {
    records: Number(row.records),
    fullPageImages: Number(row.fpi),
    bytes: Number(row.bytes),
    syncs: Number(row.syncs),
  };
}

/** What the WAL gained between two readings, per unit (NaN without units). */
export function walPerUnit(before: WalCounters, after: WalCounters, units: number): WalPerUnit {
  const per = (a: number, b: number) => units > 0 ? (b - a) / units : NaN;
  return {
    records: per(before.records, after.records),
    fullPageImages: per(before.fullPageImages, after.fullPageImages),
    bytes: per(before.bytes, after.bytes),
    syncs: per(before.syncs, after.syncs),
  };
}

/** Each field's median over several windows. */
export function medianWal(windows: readonly WalPerUnit[]): WalPerUnit {
  const m = (pick: (w: WalPerUnit) => number) => median(windows.map(pick));
  return {
    records: m((w) => w.records),
    fullPageImages: m((w) => w.fullPageImages),
    bytes: m((w) => w.bytes),
    syncs: m((w) => w.syncs),
  };
}
