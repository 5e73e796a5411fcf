/**
 * The server profile of a timed window, beside CPU per unit: what the
 * database's busy backends waited for (`wait_events.ts`) and the WAL written
 * (`wal_stats.ts`), started and stopped together for Drover's runs and the
 * peers' windows.
 *
 * @module
 */
import type { RawSql } from "./raw_sql.ts";
import { describeWaits, mergeWaits, startWaitSampler, type WaitProfile } from "./wait_events.ts";
import { medianWal, readWal, type WalCounters, type WalPerUnit, walPerUnit } from "./wal_stats.ts";

/** A window's profile, per unit (job) of work done in it. */
export interface ServerProfile {
  waits: WaitProfile;
  wal: WalPerUnit;
}

/** A window that ended: its wait samples and the WAL counters at both ends. */
export interface ProfiledWindow {
  waits: WaitProfile;
  walBefore: WalCounters;
  walAfter: WalCounters;
}

/** A window being profiled. */
export interface ServerProfiling {
  /** Ends the window; calling it again gives the same answer. Rejects if a sample failed. */
  stop(): Promise<ProfiledWindow>;
}

/** Reads the WAL counters and starts sampling the backends of `database`, through `db` (a connection of its own). */
export async function startServerProfile(db: RawSql, database: string): Promise<ServerProfiling> {
  const walBefore = await readWal(db);
  const sampler = startWaitSampler(db, database);
  let stopped: Promise<ProfiledWindow> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        const waits = await sampler.stop();
        return { waits, walBefore, walAfter: await readWal(db) };
      })();
      return stopped;
    },
  };
}

/** The window's profile for `units` done in it. */
export function profilePerUnit(window: ProfiledWindow, units: number): ServerProfile {
  return { waits: window.waits, wal: walPerUnit(window.walBefore, window.walAfter, units) };
}

/** Several windows of one configuration: wait samples added up, each WAL figure's median. */
export function mergeProfiles(profiles: readonly ServerProfile[]): ServerProfile {
  return { waits: mergeWaits(profiles.map((p) => p.waits)), wal: medianWal(profiles.map((p) => p.wal)) };
}

/** One line for progress output: `2.70 active: Lock:object 64%, ...; WAL/unit 1311 bytes, 1.01 flushes`. */
export function describeProfile(p: ServerProfile, unit: "unit" | "job"): string {
  return `${describeWaits(p.waits)}; WAL/${unit} ${p.wal.bytes.toFixed(0)} bytes, ${p.wal.syncs.toFixed(2)} flushes`;
}
