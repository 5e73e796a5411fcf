/**
 * The control-loop runner (seed 001, without its defects): a loop names its
 * process, its backoff, how to retrieve candidates and how to process one
 * machine; the runner runs `parallelism` workers over it.
 *
 * Each worker holds its own session (a new one when it expires), takes a
 * token from the shared DB query limiter before every claim (an aborted wait
 * stops the worker; it is not ignored, as the seed ignored it), processes the
 * machine under `work.signal` joined with shutdown, and commits. A processing
 * error fails the work with the loop's backoff and a cause naming the loop
 * and what failed; an operator's cancel ends it as Canceled. On shutdown a
 * worker cancels the work it holds and closes its session (the seed never
 * closed a session after a failure). After an unexpected error (the database
 * away) it pauses and goes on with the same session: a claim or commit whose
 * reply was lost may have left a machine held that the worker does not know
 * of, and the session releases it itself before its next claim (BMDB).
 *
 * With few workers, a finish and the next claim go as one statement
 * (`Work.finishAndClaim`): 1.5-1.7x the units/s at one worker, measured.
 * With many, a worker's finish goes out as its own statement and the worker
 * claims its next machine while that finish is in flight (at most one
 * finish in flight per worker, awaited before the next machine is
 * processed): separate statements batch across workers, and the overlap
 * keeps a claim batch and a commit batch running at once.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Backoff,
  type Bmdb,
  type Logger,
  NothingToDoError,
  type Process,
  type Queries,
  type Query,
  type Session,
  SessionExpiredError,
  type Work,
  WorkCanceledError,
  WorkConflictError,
} from "../bmdb/mod.ts";
import type { LoopMetrics } from "./metrics.ts";
import type { TokenBucket } from "./token_bucket.ts";

/** What `process` hands back: the commit, as tag writes returned unawaited (e.g. `q => q.machineSetAgentStarted(...)`). */
export type Commit = (q: Queries) => unknown;

/** One control loop: what the runner needs to know. */
export interface ControlLoop<M extends { machineId: string }> {
  /** Names the loop in logs, metrics and failure causes, e.g. "initializer". */
  readonly name: string;
  readonly process: Process;
  /** The backoff a failed machine gets. */
  readonly backoff: Backoff;
  /** Candidates, best first, as a workflow query returned unawaited (one statement claims). */
  retrieve(q: Queries): Query<M[]>;
  /**
   * The side effects for one locked machine. Honour `signal`: it aborts on an
   * operator's cancel, on session expiry and on shutdown. Throw to fail the
   * work; return the commit.
   */
  processMachine(machine: M, signal: AbortSignal): Promise<Commit>;
}

/**
 * Below this many workers, a worker finishes its machine and claims the next
 * in one statement (`Work.finishAndClaim`); from it on, claims and finishes
 * go as separate statements, which the BMDB's batchers share across workers,
 * and each worker's next claim overlaps its finish. Measured on 2 cores at
 * 10,000 machines, units/s, medians of 5-6 interleaved 3 s runs (2026-12-06,
 * bench/README.md): finish-and-claim / overlapped / claim then finish
 * (awaited) at 4 workers 2,716 / 1,843 / -, at 8 3,242 / 2,838 / 2,180, at
 * 9 2,973 / 3,099 / -, at 10 2,979 / 3,237 / -, at 12 2,965 / 3,517 /
 * 3,210, at 16 2,988 / 3,999 / 3,418. (The threshold was 7 until then, from
 * runs of 2026-12-04, before migrations 0006-0008.)
 */
export const FINISH_AND_CLAIM_BELOW = 10;

export interface LoopRunnerOptions {
  /** Workers, each with its own session. @default 1 */
  parallelism?: number;
  /** The DB query limiter shared by every loop of the process: one token per claim. */
  limiter: TokenBucket;
  /** How long a worker waits after finding nothing to do. @default 1000 */
  idleWaitMs?: number;
  /**
   * The longest wait while idle: each claim that finds nothing in a row
   * doubles the wait, from `idleWaitMs` up to this; work found resets it.
   * An idle claim reads the loop's candidates (about 180 ms of database time
   * at 100,000 machines), so an idle fleet is not polled every second. At
   * most one session interval by default: work another replica releases
   * (a rolling upgrade's SIGTERM) waits no longer than that for a claim.
   * @default 8 × idleWaitMs, at most sessionIntervalSeconds (but not below idleWaitMs)
   */
  maxIdleWaitMs?: number;
  /** How long a worker pauses after an unexpected error (database unreachable, say). @default 1000 */
  errorPauseMs?: number;
  /** The sessions' heartbeat interval. @default 5 */
  sessionIntervalSeconds?: number;
  /**
   * Finish and claim the next machine in one statement while parallelism is below this.
   * @default FINISH_AND_CLAIM_BELOW
   */
  finishAndClaimBelow?: number;
  metrics: LoopMetrics;
  logger: Logger;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const causes: string[] = [error.message];
  for (let e: unknown = error.cause; e instanceof Error && causes.length < 4; e = e.cause) causes.push(e.message);
  return causes.join(": ");
}

/**
 * The longest idle wait unless one is given: 8 × `idleWaitMs`, but at most
 * one session interval (and never below `idleWaitMs`), so that work released
 * by a replica that stops is claimed within one session interval plus the
 * claim limiter.
 */
export function defaultMaxIdleWaitMs(idleWaitMs: number, sessionIntervalSeconds: number): number {
  return Math.max(idleWaitMs, Math.min(8 * idleWaitMs, sessionIntervalSeconds * 1000));
}

/** Runs one loop's workers until the signal passed to `run` aborts. */
export class LoopRunner<M extends { machineId: string }> {
  readonly #bmdb: Bmdb;
  readonly #loop: ControlLoop<M>;
  readonly #options: Required<Omit<LoopRunnerOptions, "metrics" | "logger" | "limiter">>;
  readonly #limiter: TokenBucket;
  readonly #metrics: LoopMetrics;
  readonly #logger: Logger;

  constructor(bmdb: Bmdb, loop: ControlLoop<M>, options: LoopRunnerOptions) {
    const parallelism = options.parallelism ?? 1;
    if (!Number.isInteger(parallelism) || parallelism < 1) {
      throw new RangeError(
        `Cannot run loop ${loop.name}: parallelism must be an integer >= 1: current value is ${parallelism}`,
      );
    }
    this.#bmdb = bmdb;
    this.#loop = loop;
    this.#limiter = options.limiter;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    const idleWaitMs = options.idleWaitMs ?? 1000;
    const sessionIntervalSeconds = options.sessionIntervalSeconds ?? 5;
    const maxIdleWaitMs = options.maxIdleWaitMs ?? defaultMaxIdleWaitMs(idleWaitMs, sessionIntervalSeconds);
    if (!(maxIdleWaitMs >= idleWaitMs)) {
      throw new RangeError(
        `Cannot run loop ${loop.name}: maxIdleWaitMs must be at least idleWaitMs (${idleWaitMs}): current value is ${maxIdleWaitMs}`,
      );
    }
    this.#options = {
      parallelism,
      idleWaitMs,
      maxIdleWaitMs,
      errorPauseMs: options.errorPauseMs ?? 1000,
      sessionIntervalSeconds,
      finishAndClaimBelow: options.finishAndClaimBelow ?? FINISH_AND_CLAIM_BELOW,
    };
  }

  get name(): string {
    return this.#loop.name;
  }

  /** Runs the workers; resolves once `signal` aborted and every worker released its work and closed its session. */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all(Array.from({ length: this.#options.parallelism }, (_, i) => this.#worker(i, signal)));
  }

  async #worker(index: number, signal: AbortSignal): Promise<void> {
    const label = { loop: this.#loop.name };
    let session: Session | undefined;
    let next: Work<M> | undefined;
    // The previous machine's finish, in flight while the next is claimed: resolves with its error, never rejects.
    let finishing: Promise<unknown> | undefined;
    const settleFinish = async () => {
      const failure = await finishing;
      finishing = undefined;
      return failure;
    };
    let idleWaitMs = this.#options.idleWaitMs;
    try {
      while (!signal.aborted) {
        try {
          session ??= await this.#bmdb.startSession({
            intervalSeconds: this.#options.sessionIntervalSeconds,
            runtimeInfo: `${Deno.hostname()} pid ${Deno.pid} loop ${this.#loop.name} worker ${index}`,
          });
          const work = next ?? await this.#claim(session, signal);
          next = undefined;
          const failure = await settleFinish();
          if (failure !== undefined) {
            if (typeof work !== "string") next = work; // claimed meanwhile: processed after the pause
            throw failure;
          }
          if (work === "idle") {
            this.#metrics.idlePolls.inc(label);
            // A session that ends meanwhile (its row lost in a database failover, say) is replaced at once.
            await sleep(idleWaitMs, undefined, { signal: AbortSignal.any([signal, session.signal]) }).catch(() => {});
            idleWaitMs = Math.min(2 * idleWaitMs, this.#options.maxIdleWaitMs);
            continue;
          }
          idleWaitMs = this.#options.idleWaitMs;
          if (work === "conflict") continue;
          ({ next, finishing } = await this.#process(work, signal));
        } catch (error) {
          if (signal.aborted) break;
          if (error instanceof SessionExpiredError) {
            this.#logger.warn("session expired; starting a new one", {
              loop: this.#loop.name,
              sessionId: session?.sessionId,
            });
            next = undefined;
            await settleFinish();
            await session?.close();
            session = undefined;
            continue;
          }
          this.#metrics.errors.inc(label);
          this.#logger.error("loop error; pausing", { loop: this.#loop.name, error: describe(error) });
          await sleep(this.#options.errorPauseMs, undefined, { signal }).catch(() => {});
        }
      }
    } finally {
      const failure = await settleFinish(); // a shutdown must not strand done side effects
      if (failure !== undefined) {
        this.#logger.error("finish failed", { loop: this.#loop.name, error: describe(failure) });
      }
      await next?.cancel();
      await session?.close(); // releases any work still held as Canceled
    }
  }

  /** One token, then one claim. */
  async #claim(session: Session, signal: AbortSignal): Promise<Work<M> | "idle" | "conflict"> {
    await this.#limiter.take(signal);
    try {
      const work = await session.work(this.#loop.process, (q) => this.#loop.retrieve(q));
      this.#metrics.claims.inc({ loop: this.#loop.name });
      return work;
    } catch (error) {
      if (error instanceof NothingToDoError) return "idle";
      if (error instanceof WorkConflictError) {
        this.#metrics.conflicts.inc({ loop: this.#loop.name });
        return "conflict";
      }
      throw error;
    }
  }

  /**
   * Side effects and commit. Resolves with the next work when the commit
   * claimed one, or with the commit still in flight (`finishing`, which
   * resolves with the error to report, if any) when the worker may claim
   * meanwhile.
   */
  async #process(
    work: Work<M>,
    signal: AbortSignal,
  ): Promise<{ next?: Work<M>; finishing?: Promise<unknown> }> {
    const loop = this.#loop;
    const fields = { loop: loop.name, machineId: work.machineId, process: loop.process };
    const machine = work.machine;
    if (machine === undefined) {
      await work.cancel(); // nothing to process: release the machine rather than hold it until the session ends
      throw new Error(`Loop ${loop.name}: its retrieve query returned no row to process`);
    }
    const stopTimer = this.#metrics.processingSeconds.startTimer({ loop: loop.name });
    let commit: Commit;
    try {
      commit = await loop.processMachine(machine, AbortSignal.any([work.signal, signal]));
    } catch (error) {
      if (signal.aborted && !work.signal.aborted) {
        await work.cancel(); // shutdown: released as Canceled, no backoff
        throw signal.reason;
      }
      if (work.signal.reason instanceof SessionExpiredError) throw work.signal.reason;
      const cause = `${loop.name} failed: ${describe(error)}`;
      // After an operator's cancel, fail() records Canceled (no backoff) instead.
      await work.fail(loop.backoff, cause);
      if (work.signal.reason instanceof WorkCanceledError) {
        const { actor } = work.signal.reason;
        // No operator: the database no longer held the work for this session (a failover lost the claim).
        if (actor === null) this.#logger.warn("work stopped: its session no longer holds it", fields);
        else this.#logger.info("work canceled by an operator", { ...fields, actor });
      } else {
        this.#metrics.failures.inc({ loop: loop.name });
        this.#logger.warn("work failed", { ...fields, cause });
      }
      return {};
    } finally {
      stopTimer();
    }
    // The commit never waits for a token (a shutdown must not strand done
    // side effects); the next claim rides along only when one is at hand.
    const together = this.#options.parallelism < this.#options.finishAndClaimBelow;
    if (!together) {
      return { finishing: work.finish(commit).then(() => this.#countFinish(), (e) => this.#finishFailed(work, e)) };
    }
    try {
      if (!signal.aborted && this.#limiter.tryTake()) {
        const next = await work.finishAndClaim(commit, (q) => loop.retrieve(q));
        this.#countFinish();
        if (next) this.#metrics.claims.inc({ loop: loop.name });
        return { next };
      }
      await work.finish(commit);
      this.#countFinish();
      return {};
    } catch (error) {
      if (error instanceof WorkConflictError) {
        // The finish committed; the claim that rode along lost its machine.
        this.#countFinish();
        this.#metrics.conflicts.inc({ loop: loop.name });
        return {};
      }
      const failure = this.#finishFailed(work, error);
      if (failure !== undefined) throw failure;
      return {};
    }
  }

  #countFinish(): void {
    this.#metrics.finishes.inc({ loop: this.#loop.name });
  }

  /**
   * A commit that failed: undefined when an operator's cancel explains it,
   * else the error to report (naming the machine, so the log says which one;
   * a session expiry as it is, which the worker recognises).
   */
  #finishFailed(work: Work<M>, error: unknown): unknown {
    if (error instanceof WorkCanceledError) {
      const fields = { loop: this.#loop.name, machineId: work.machineId, process: this.#loop.process };
      if (error.actor === null) {
        // No operator: the database no longer held the work for this session (a failover lost the claim).
        this.#logger.warn("work could not finish: its session no longer holds it; nothing was committed", fields);
      } else {
        this.#logger.info("work canceled by an operator before it could finish", { ...fields, actor: error.actor });
      }
      return undefined;
    }
    if (error instanceof SessionExpiredError) return error;
    return new Error(`Loop ${this.#loop.name}: finishing machine ${work.machineId} (${this.#loop.process}) failed`, {
      cause: error,
    });
  }
}
