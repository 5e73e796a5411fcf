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
import { type Bmdb, NothingToDoError, Process, type Session, type Work, WorkConflictError } from "../bmdb/mod.ts";
import { FINISH_AND_CLAIM_BELOW } from "../loops/runner.ts";
import { agentStarted, forAgentStart } from "../tests/harness/fleet.ts";
import { percentile } from "./percentile.ts";

/**
 * How a worker strings units together: `finishAndClaim` (a loop's steady
 * state with few workers: each unit's finish and the next unit's claim are
 * one statement), `overlapped` (with many: the finish and the next claim are
 * separate statements, the claim sent while the finish is in flight) or
 * `claimThenFinish` (`session.work()`, then `work.finish()`, each awaited).
 */
export type UnitShape = "finishAndClaim" | "overlapped" | "claimThenFinish";

/**
 * The shape the bench's headline figures use: one of the three at every
 * worker count, or `runner`, the one the control loops' runner
 * (loops/runner.ts) uses at that count: finish-and-claim below
 * `FINISH_AND_CLAIM_BELOW` workers, overlapped from there.
 */
export type UnitChoice = UnitShape | "runner";

/** The shape `choice` stands for at `workers` workers. */
export function shapeFor(choice: UnitChoice, workers: number): UnitShape {
  if (choice !== "runner") return choice;
  return workers < FINISH_AND_CLAIM_BELOW ? "finishAndClaim" : "overlapped";
}

/** The shape measured beside `unit`, for comparison: the runner's other one. */
export function otherUnitOf(unit: UnitShape): UnitShape {
  return unit === "finishAndClaim" ? "overlapped" : "finishAndClaim";
}

/** What a unit of each shape is, for reports. */
export const UNIT_DESCRIPTION: Record<UnitShape, string> = {
  claimThenFinish: "a claim (getMachinesForAgentStart, limit 1, returned unawaited: one statement) and a finish " +
    "that sets the agent-started tag (one statement), each awaited before the next.",
  overlapped: "the same claim and finish as separate statements, the next claim sent while the finish is in " +
    "flight (one finish in flight per worker, awaited before the next finish), as the runner does with many " +
    "workers; concurrent claims and concurrent commits share statements.",
  finishAndClaim: "a finish that sets the agent-started tag and the claim of the next machine, sent by " +
    "work.finishAndClaim() as one statement (a loop's steady state; while one such statement is in flight, the " +
    "finish and the claim join the other commits and claims instead). Its claim and finish times are the call's.",
};

/** A shape's name in report tables. */
export const SHAPE_LABEL: Record<UnitShape, string> = {
  finishAndClaim: "finish+claim",
  overlapped: "overlapped",
  claimThenFinish: "claim, finish",
};

/** What a choice of unit is, for reports. */
export function describeUnitChoice(choice: UnitChoice): string {
  if (choice !== "runner") return `${choice}: ${UNIT_DESCRIPTION[choice]}`;
  return `as the control loops' runner strings them: finishAndClaim below ${FINISH_AND_CLAIM_BELOW} workers, ` +
    `overlapped from ${FINISH_AND_CLAIM_BELOW} on. finishAndClaim: ${UNIT_DESCRIPTION.finishAndClaim} ` +
    `overlapped: ${UNIT_DESCRIPTION.overlapped}`;
}

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

/** Pause after a claim that found nothing, as a real loop would before polling again. */
const NOTHING_TO_DO_PAUSE_MS = 5;

interface WorkerTally {
  units: number;
  conflicts: number;
  nothingToDo: number;
  claimMs: number[];
  finishMs: number[];
}

/** Whether a worker goes on: before the deadline (performance.now() time) and not stopped. */
interface Until {
  deadline: number;
  signal?: AbortSignal;
}

const going = (until: Until) => performance.now() < until.deadline && !until.signal?.aborted;

/** Counts a unit that finished by the deadline, with its claim and finish times. */
function record(tally: WorkerTally, until: Until, claimMs: number, finishMs: number, finished: number): void {
  if (finished > until.deadline) return;
  tally.units++;
  tally.claimMs.push(claimMs);
  tally.finishMs.push(finishMs);
}

/** A claim, or undefined (counted, after a pause) when it found nothing or lost its machine. */
async function claim(session: Session, tally: WorkerTally): Promise<Work<unknown> | undefined> {
  try {
    return await session.work(Process.ShepherdAgentStart, forAgentStart);
  } catch (error) {
    if (error instanceof NothingToDoError) {
      tally.nothingToDo++;
      await sleep(NOTHING_TO_DO_PAUSE_MS);
      return undefined;
    }
    if (error instanceof WorkConflictError) {
      tally.conflicts++;
      return undefined;
    }
    throw error;
  }
}

/** One worker: claim, finish, repeat. */
async function claimThenFinishLoop(session: Session, until: Until, tally: WorkerTally): Promise<void> {
  while (going(until)) {
    const claimStarted = performance.now();
    const work = await claim(session, tally);
    if (!work) continue;
    const claimed = performance.now();
    await work.finish((q) => agentStarted(q, work.machineId));
    const finished = performance.now();
    record(tally, until, claimed - claimStarted, finished - claimed, finished);
  }
}

/**
 * One worker in a loop's steady state: each `finishAndClaim` finishes the
 * held machine and claims the next in one statement. Its time counts as both
 * the unit's claim and its finish.
 */
async function finishAndClaimLoop(session: Session, until: Until, tally: WorkerTally): Promise<void> {
  let work: Work<unknown> | undefined;
  try {
    while (going(until)) {
      work ??= await claim(session, tally);
      if (!work) continue;
      const started = performance.now();
      const current: Work<unknown> = work;
      work = undefined;
      work = await current.finishAndClaim((q) => agentStarted(q, current.machineId), forAgentStart);
      const finished = performance.now();
      record(tally, until, finished - started, finished - started, finished);
      if (!work) tally.nothingToDo++; // finished, but nothing was left to claim
    }
  } finally {
    await work?.cancel();
  }
}

/**
 * One worker as the runner strings units with many workers: the finish goes
 * out, the next claim is sent while it is in flight, and the finish is
 * awaited before the next one. A unit counts when its finish lands.
 */
async function overlappedLoop(session: Session, until: Until, tally: WorkerTally): Promise<void> {
  let work: Work<unknown> | undefined;
  let finishing: Promise<void> = Promise.resolve();
  try {
    while (going(until)) {
      const claimStarted = performance.now();
      work = await claim(session, tally);
      if (!work) continue;
      const claimed = performance.now();
      await finishing;
      const current: Work<unknown> = work;
      work = undefined;
      const finishStarted = performance.now();
      finishing = current.finish((q) => agentStarted(q, current.machineId)).then(() => {
        const finished = performance.now();
        record(tally, until, claimed - claimStarted, finished - finishStarted, finished);
      });
    }
  } finally {
    await finishing;
    await work?.cancel();
  }
}

/**
 * Runs one loop per session for `seconds` (or until `signal` aborts), all at
 * once, and measures them. Every work is finished when this returns (none is
 * left held).
 */
export async function runWorkload(
  bmdb: Bmdb,
  sessions: readonly Session[],
  seconds: number,
  unit: UnitShape,
  signal?: AbortSignal,
): Promise<WorkloadResult> {
  const tallies: WorkerTally[] = sessions.map(() => ({
    units: 0,
    conflicts: 0,
    nothingToDo: 0,
    claimMs: [],
    finishMs: [],
  }));
  const retriesBefore = bmdb.counters.transactionRetries;
  const started = performance.now();
  const until: Until = { deadline: started + seconds * 1000, signal };
  const loop = { finishAndClaim: finishAndClaimLoop, overlapped: overlappedLoop, claimThenFinish: claimThenFinishLoop }[
    unit
  ];
  await Promise.all(sessions.map((s, i) => loop(s, until, tallies[i])));
  seconds = Math.min(seconds, (performance.now() - started) / 1000);
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
