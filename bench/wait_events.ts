/**
 * Where a database's backends spend their time, sampled from
 * `pg_stat_activity` while a run is timed: on the CPU (active, no wait
 * event), or waiting, by PostgreSQL's own wait event (`Lock:object` is a
 * heavyweight lock on an object, the one a transaction that sent NOTIFY holds
 * from its commit until its commit record is flushed; `IO:WALSync` a WAL
 * flush; `LWLock:WALWrite` a backend waiting for another's flush).
 * Backends idle between statements are waiting for their client; they count
 * only in the average of active backends, not in the shares.
 *
 * It is the "lock waits" part of a profile: CPU per unit says how much work a
 * unit is, this says what an active backend waited for. One sample every
 * `everyMs` (50 by default), in the measured process: Drover's units/s with
 * and without it, paired 5 s runs, 0.99x at 4 workers and 1.02x at 16 (noise).
 *
 * @module
 */
import type { RawSql } from "./raw_sql.ts";

/** Backend samples of one or more runs. */
export interface WaitProfile {
  /** Samples taken (polls of `pg_stat_activity`). */
  samples: number;
  /** Backend samples that were active (running a statement). */
  activeSamples: number;
  /** Active backend samples by what they were doing: `CPU` or `<wait_event_type>:<wait_event>`. */
  byState: Record<string, number>;
}

/** Average active backends, and each state's share of the active samples, largest first. */
export function summarizeWaits(p: WaitProfile): { activeBackends: number; shares: [string, number][] } {
  const shares = Object.entries(p.byState)
    .map(([state, n]): [string, number] => [state, p.activeSamples > 0 ? n / p.activeSamples : NaN])
    .sort((a, b) => b[1] - a[1]);
  return { activeBackends: p.samples > 0 ? p.activeSamples / p.samples : NaN, shares };
}

/** One line: active backends, then the largest shares (`1.9 active: Lock:object 61%, IO:WALSync 22%, CPU 14%`). */
export function describeWaits(p: WaitProfile, largest = 3): string {
  const { activeBackends, shares } = summarizeWaits(p);
  return `${activeBackends.toFixed(2)} active: ` +
    shares.slice(0, largest).map(([state, share]) => `${state} ${(share * 100).toFixed(0)}%`).join(", ");
}

/** Adds profiles up (several runs of a configuration). */
export function mergeWaits(profiles: readonly WaitProfile[]): WaitProfile {
  const merged: WaitProfile = { samples: 0, activeSamples: 0, byState: {} };
  for (const p of profiles) {
    merged.samples += p.samples;
    merged.activeSamples += p.activeSamples;
    for (const [state, n] of Object.entries(p.byState)) merged.byState[state] = (merged.byState[state] ?? 0) + n;
  }
  return merged;
}

/** A running sampler: `stop()` ends it and resolves with what it saw (rejects if a poll failed). */
export interface WaitSampler {
  stop(): Promise<WaitProfile>;
}

/**
 * Samples the client backends connected to `database` (except its own) every
 * `everyMs`, through `db`, a connection of the sampler's own.
 */
export function startWaitSampler(db: RawSql, database: string, everyMs = 50): WaitSampler {
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`wait sampler: database name ${database} is not plain`);
  const statement = `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS state
    FROM pg_stat_activity
    WHERE datname = '${database}' AND backend_type = 'client backend' AND state = 'active'
      AND pid <> pg_backend_pid()`;
  const profile: WaitProfile = { samples: 0, activeSamples: 0, byState: {} };
  let stopped = false;
  let wake: (() => void) | undefined;
  // At least one sample, even when stopped at once.
  const loop = (async () => {
    while (true) {
      const rows = await db.query(statement);
      profile.samples++;
      for (const { state } of rows) {
        profile.activeSamples++;
        profile.byState[String(state)] = (profile.byState[String(state)] ?? 0) + 1;
      }
      if (stopped) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, everyMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      return profile;
    },
  };
}
