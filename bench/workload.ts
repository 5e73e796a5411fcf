/**
 * The work unit and the worker loops that repeat it for a fixed time.
 *
 * A unit is a claim, `session.work(ShepherdAgentStart, q =>
 * q.getMachinesForAgentStart({ provider: Equinix, limit: 1 }))` with the query
 * returned unawaited (one statement), and a finish that sets the
 * agent-started tag, also returned unawaited (one statement). One session and
 * one async loop per worker, all on one Bmdb.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Bmdb, NothingToDoError, Process, Provider, type Session, WorkConflictError } from "../bmdb/mod.ts";
import { percentile } from "./percentile.ts";

/** What the workers did in one timed stretch. */
export interface WorkloadResult {
  /** Length of the measured window. */
  seconds: number;
  /** Units whose finish completed inside the window. */
  units: number;
  unitsPerSecond: number;
  /** `bmdb.counters.transactionRetries` over the window (serialization failures and deadlocks, retried). */
  retries: number;
  retriesPer100Units: number;
  /** Claims that lost a machine to another session (`WorkConflictError`). */
  conflicts: number;
  /** Claims that found no eligible machine (`NothingToDoError`). */
  nothingToDo: number;
  /** Time of `session.work()`, per claim that got a machine. */
  claimP50Ms: number;
  claimP99Ms: number;
  /** Time of `work.finish()`. */
  finishP50Ms: number;
  finishP99Ms: number;
}

const AGENT_PUBLIC_KEY = new Uint8Array(32).fill(7);

/** Pause after a claim that found nothing, as a real loop would before polling again. */
const NOTHING_TO_DO_PAUSE_MS = 5;

interface WorkerTally {
  units: number;
  conflicts: number;
  nothingToDo: number;
  claimMs: number[];
  finishMs: number[];
}

/** One worker: claim, finish, repeat until `deadline` (performance.now() time). */
async function workerLoop(session: Session, deadline: number, tally: WorkerTally): Promise<void> {
  while (performance.now() < deadline) {
    const claimStarted = performance.now();
    let work;
    try {
      work = await session.work(
        Process.ShepherdAgentStart,
        (q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1 }),
      );
    } catch (error) {
      if (error instanceof NothingToDoError) {
        tally.nothingToDo++;
        await sleep(NOTHING_TO_DO_PAUSE_MS);
        continue;
      }
      if (error instanceof WorkConflictError) {
        tally.conflicts++;
        continue;
      }
      throw error;
    }
    const claimed = performance.now();
    const machineId = work.machineId;
    await work.finish((q) =>
      q.machineSetAgentStarted({ machineId, agentStartedAt: new Date(), agentPublicKey: AGENT_PUBLIC_KEY })
    );
    const finished = performance.now();
    if (finished <= deadline) {
      tally.units++;
      tally.claimMs.push(claimed - claimStarted);
      tally.finishMs.push(finished - claimed);
    }
  }
}

/**
 * Runs one loop per session for `seconds`, all at once, and measures them.
 * Every work is finished when this returns (none is left held).
 */
export async function runWorkload(bmdb: Bmdb, sessions: readonly Session[], seconds: number): Promise<WorkloadResult> {
  const tallies: WorkerTally[] = sessions.map(() => ({
    units: 0,
    conflicts: 0,
    nothingToDo: 0,
    claimMs: [],
    finishMs: [],
  }));
  const retriesBefore = bmdb.counters.transactionRetries;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(sessions.map((s, i) => workerLoop(s, deadline, tallies[i])));
  const retries = bmdb.counters.transactionRetries - retriesBefore;
  const units = tallies.reduce((n, t) => n + t.units, 0);
  const claimMs = tallies.flatMap((t) => t.claimMs);
  const finishMs = tallies.flatMap((t) => t.finishMs);
  return {
    seconds,
    units,
    unitsPerSecond: units / seconds,
    retries,
    retriesPer100Units: units > 0 ? (retries / units) * 100 : NaN,
    conflicts: tallies.reduce((n, t) => n + t.conflicts, 0),
    nothingToDo: tallies.reduce((n, t) => n + t.nothingToDo, 0),
    claimP50Ms: percentile(claimMs, 50),
    claimP99Ms: percentile(claimMs, 99),
    finishP50Ms: percentile(finishMs, 50),
    finishP99Ms: percentile(finishMs, 99),
  };
}
