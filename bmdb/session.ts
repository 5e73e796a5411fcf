/**
 * Sessions: a component's heartbeated presence in the BMDB, under which it
 * runs transactions and takes work.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Claimed, claimMachine, type Retrieved } from "./claim.ts";
import type { ClaimBatcher } from "./claim_batcher.ts";
import type { CommitBatcher } from "./commit_batcher.ts";
import type { CommitAndClaimRunner } from "./commit_and_claim.ts";
import type { Driver } from "./driver.ts";
import { type DatabaseError, outcomeUnknown, SessionExpiredError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Process } from "./model.ts";
import type { Query } from "./query.ts";
import type { Queries } from "./queries.ts";
import { closeSession, heartbeat, releaseUnknownWork, toHeartbeatResult } from "./queries_session.ts";
import { render } from "./sql.ts";
import { LazyTransaction, retrying } from "./transaction.ts";
import * as check from "./validate.ts";
import { Work, type WorkOwner } from "./work.ts";

const CLOSED = "closed";

/** What a session needs from the `Bmdb` that started it. */
export interface SessionContext {
  driver: Driver;
  claims: ClaimBatcher;
  commits: CommitBatcher;
  commitsAndClaims: CommitAndClaimRunner;
  logger: Logger;
  counters: { claims: number; conflicts: number; transactionRetries: number };
  onClosed(session: Session): void;
}

/**
 * A session in the BMDB. While it lives, other components see its work as
 * taken. Start one with `Bmdb.startSession()`; end it with `close()`.
 */
export class Session {
  readonly sessionId: string;
  readonly intervalSeconds: number;
  /**
   * Aborts when the session ends: with a `SessionExpiredError` (heartbeats
   * failed past the deadline, row gone, closed), or with the reason of the
   * signal given to `startSession` (which behaves like a crash).
   */
  readonly signal: AbortSignal;

  readonly #context: SessionContext;
  readonly #expiry = new AbortController();
  readonly #held = new Map<Work<unknown>, true>();
  #localDeadline: number;
  #heartbeat: Promise<void> = Promise.resolve();
  #closing: Promise<void> | undefined;
  readonly #owner: WorkOwner;
  // A claim may lock a machine before this session learns which, and a lost
  // reply leaves it held by a live session that does not know it (until the
  // session ends). After such a failure, the next claim first releases what
  // the database holds beyond the work known here, once no claim is under way.
  #claimsInFlight = 0;
  #claimsSettled: PromiseWithResolvers<void> | undefined;
  #unknownWorkSuspected = false;
  #releasingUnknownWork: Promise<void> | undefined;

  /** @internal Use `Bmdb.startSession()`. */
  constructor(
    context: SessionContext,
    init: { sessionId: string; intervalSeconds: number; sentAt: number; parent?: AbortSignal },
  ) {
    this.#context = context;
    this.sessionId = init.sessionId;
    this.intervalSeconds = init.intervalSeconds;
    // Measured from when the INSERT was sent, so it passes no later than the
    // deadline the database set: locally we give up first.
    this.#localDeadline = init.sentAt + init.intervalSeconds * 1000;
    this.signal = init.parent ? AbortSignal.any([init.parent, this.#expiry.signal]) : this.#expiry.signal;
    this.#owner = this.#workOwner();
  }

  /** @internal Starts heartbeating; called once by `Bmdb.startSession()`. */
  startHeartbeats(): void {
    this.#heartbeat = this.#maintain();
  }

  #fields() {
    return { sessionId: this.sessionId };
  }

  #expire(reason: string, cause?: unknown): void {
    if (this.#expiry.signal.aborted) return;
    if (!this.signal.aborted && reason !== CLOSED) {
      this.#context.logger.warn("session expired", { ...this.#fields(), reason });
    }
    this.#expiry.abort(new SessionExpiredError(this.sessionId, reason, { cause }));
  }

  #expiredError(): SessionExpiredError {
    const reason = this.signal.reason;
    if (reason instanceof SessionExpiredError) return reason;
    return new SessionExpiredError(this.sessionId, "its signal was aborted", { cause: reason });
  }

  #assertAlive(): void {
    if (this.signal.aborted) throw this.#expiredError();
  }

  async #maintain(): Promise<void> {
    const intervalMs = this.intervalSeconds * 1000;
    const retryMs = Math.min(1000, intervalMs / 4);
    const signal = this.signal;
    let lastError: unknown;
    while (!signal.aborted) {
      try {
        await sleep(intervalMs / 2, undefined, { signal });
      } catch {
        return;
      }
      // Retry until the local deadline (not, as the seed did, give up on the first error).
      for (;;) {
        const sentAt = performance.now();
        const remaining = this.#localDeadline - sentAt;
        if (remaining <= 0) {
          this.#expire(`no successful heartbeat within ${this.intervalSeconds} s`, lastError);
          return;
        }
        try {
          const result = await this.#beat(remaining, signal);
          if (!result.alive) {
            this.#expire("its row is gone or past its deadline");
            return;
          }
          this.#localDeadline = sentAt + intervalMs;
          for (const request of result.cancelRequested) {
            for (const work of this.#held.keys()) {
              if (work.machineId === request.machineId && work.process === request.process) {
                work.cancelRequested(request.actor);
              }
            }
          }
          for (const gone of result.lost) {
            for (const work of this.#held.keys()) {
              if (work.machineId === gone.machineId && work.process === gone.process) work.lost();
            }
          }
          break;
        } catch (error) {
          if (signal.aborted) return;
          lastError = error;
          this.#context.logger.warn("heartbeat failed; retrying", { ...this.#fields(), error });
          const wait = Math.max(0, Math.min(retryMs, this.#localDeadline - performance.now()));
          try {
            await sleep(wait, undefined, { signal });
          } catch {
            return;
          }
        }
      }
    }
  }

  /** One heartbeat, abandoned (rejected) if it outlasts `timeoutMs` or the session ends. */
  async #beat(timeoutMs: number, signal: AbortSignal) {
    const held = [...this.#held.keys()].map((w) => ({ machineId: w.machineId, process: w.process }));
    const { text, params } = render(heartbeat({ sessionId: this.sessionId, held }));
    const pending = this.#context.driver.query(text, params, "read committed");
    pending.catch(() => {}); // may be abandoned below
    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      const fail = () => reject(new Error(`heartbeat did not complete within ${Math.round(timeoutMs)} ms`));
      timer = setTimeout(fail, timeoutMs);
      onAbort = fail;
      signal.addEventListener("abort", fail, { once: true });
    });
    try {
      return toHeartbeatResult(await Promise.race([pending, abandoned]));
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  #transaction(): LazyTransaction {
    return new LazyTransaction(this.#context.driver, {
      isolation: "serializable",
      sessionId: this.sessionId,
      onSessionDead: () => this.#expiredByDatabase(),
    });
  }

  #expiredByDatabase(): SessionExpiredError {
    this.#expire("the database reports it is past its deadline");
    return this.#expiredError();
  }

  #retrying<T>(attempt: () => Promise<T>): Promise<T> {
    const onRetry = (error: DatabaseError) => {
      this.#context.counters.transactionRetries++;
      this.#context.logger.debug("transaction retried", { ...this.#fields(), code: error.code, error });
    };
    return retrying(attempt, { signal: this.signal, onRetry }).catch((error) => {
      // Aborted while waiting to retry: report the session's end, not an AbortError.
      if (this.signal.aborted && error === this.signal.reason) throw this.#expiredError();
      throw error;
    });
  }

  #workOwner(): WorkOwner {
    return {
      sessionId: this.sessionId,
      commits: this.#context.commits,
      commitsAndClaims: this.#context.commitsAndClaims,
      claim: (process, retrieve) => this.work(process, retrieve),
      adopt: (process, claimed) => this.#adopt(process, claimed),
      signal: this.signal,
      logger: this.#context.logger,
      assertAlive: () => this.#assertAlive(),
      expiredByDatabase: () => this.#expiredByDatabase(),
      transaction: () => this.#transaction(),
      retrying: (attempt) => this.#retrying(attempt),
      forget: (work) => this.#held.delete(work),
      claiming: (claim) => this.#claiming(claim),
      releaseFailed: () => this.#unknownWorkSuspected = true,
    };
  }

  /**
   * Runs `claim` (anything that may lock a machine for this session, up to and
   * including adopting it as work) once the database holds no work of this
   * session beyond what it knows.
   */
  async #claiming<T>(claim: () => Promise<T>): Promise<T> {
    while (this.#unknownWorkSuspected || this.#releasingUnknownWork) {
      this.#releasingUnknownWork ??= this.#releaseUnknownWork().finally(() => this.#releasingUnknownWork = undefined);
      await this.#releasingUnknownWork;
    }
    this.#claimsInFlight++;
    try {
      return await claim();
    } catch (error) {
      // A claim refused by the server or the BMDB locked nothing; one whose reply was lost may have.
      if (outcomeUnknown(error)) this.#unknownWorkSuspected = true;
      throw error;
    } finally {
      if (--this.#claimsInFlight === 0) {
        this.#claimsSettled?.resolve();
        this.#claimsSettled = undefined;
      }
    }
  }

  async #releaseUnknownWork(): Promise<void> {
    // A claim under way would look unknown: wait until none is.
    while (this.#claimsInFlight > 0) {
      this.#claimsSettled ??= Promise.withResolvers<void>();
      await this.#claimsSettled.promise;
    }
    this.#unknownWorkSuspected = false;
    const known = [...this.#held.keys()];
    try {
      const released = await this.#retrying(() =>
        this.#transaction().runAlone(releaseUnknownWork({
          sessionId: this.sessionId,
          machineIds: known.map((w) => w.machineId),
          processes: known.map((w) => w.process),
        }))
      );
      if (released.length > 0) {
        this.#context.logger.warn("released work the session held without knowing it (a reply was lost)", {
          ...this.#fields(),
          released: released.map((r) => `${r.machine_id} ${r.process}`),
        });
      }
    } catch (error) {
      this.#unknownWorkSuspected = true;
      throw error;
    }
  }

  /**
   * Runs `fn(q)` in one SERIALIZABLE transaction that first checks this
   * session is alive. Retried on serialization failures and deadlocks (so `fn`
   * may run more than once and should only touch the database).
   * @throws {SessionExpiredError} the session is over.
   */
  async transact<T>(fn: (q: Queries) => T | PromiseLike<T>): Promise<T> {
    this.#assertAlive();
    return await this.#retrying(async () => {
      const tx = this.#transaction();
      try {
        const result = await fn(tx.q);
        await tx.commit();
        return result;
      } catch (error) {
        await tx.rollback();
        throw error;
      }
    });
  }

  /**
   * Phase 1 of work: in one transaction, `retrieve(q)` names candidate
   * machines and the first is locked for `process`, with a Started history row.
   *
   * `retrieve` may return machine ids, or (fastest) a workflow query unawaited,
   * e.g. `q => q.getMachinesForAgentStart({ provider, limit: 1 })`: then
   * retrieval and lock are one statement and `work.machine` is the query's row.
   * It may run more than once (retries) and should only read.
   *
   * The returned work must end with `finish`, `fail` or `cancel`.
   *
   * After a claim whose reply was lost, or a release (`finish`, `fail`,
   * `cancel`) that failed, the next claim first releases (Canceled) the work
   * the database holds for this session beyond the work it knows.
   *
   * @throws {NothingToDoError} no candidate.
   * @throws {WorkConflictError} a live session already works on the first candidate.
   * @throws {MachineNotFoundError} the first candidate names no machine.
   * @throws {SessionExpiredError} the session is over.
   * @throws {InvalidArgumentError} an unknown process, or a candidate that is not a UUID.
   */
  async work<R extends { machineId: string }>(
    process: Process,
    retrieve: (q: Queries) => Query<R[]>,
  ): Promise<Work<R>>;
  async work(
    process: Process,
    retrieve: (q: Queries) => Promise<readonly (string | { machineId: string })[]>,
  ): Promise<Work<undefined>>;
  async work<R extends { machineId: string }>(
    process: Process,
    retrieve: (q: Queries) => Retrieved<R>,
  ): Promise<Work<R | undefined>> {
    const proc = check.process("process", process);
    this.#assertAlive();
    return await this.#claiming(async () => {
      const claimed = await this.#retrying(() =>
        claimMachine({
          sessionId: this.sessionId,
          process: proc,
          transaction: this.#transaction(),
          claims: this.#context.claims,
          expiredByDatabase: () => this.#expiredByDatabase(),
          onConflict: () => this.#context.counters.conflicts++,
        }, retrieve)
      );
      return this.#adopt(proc, claimed) as Work<R | undefined>;
    });
  }

  /** A claimed machine becomes this session's work. */
  #adopt(process: Process, claimed: Claimed): Work<unknown> {
    const work = new Work<unknown>(this.#owner, { machineId: claimed.machineId, process, machine: claimed.machine });
    this.#context.counters.claims++;
    this.#held.set(work, true);
    this.#context.logger.debug("work started", { sessionId: this.sessionId, machineId: work.machineId, process });
    return work;
  }

  /**
   * Ends the session in order: stops heartbeats, releases its work (history
   * Canceled) and deletes its row. Idempotent. After a crash-like abort of
   * its signal it only stops (the row expires at its deadline).
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const wasAlive = !this.signal.aborted;
      this.#expire(CLOSED);
      await this.#heartbeat;
      if (wasAlive) {
        try {
          const { text, params } = render(closeSession({ sessionId: this.sessionId }));
          await this.#context.driver.query(text, params, "read committed");
        } catch (error) {
          this.#context.logger.warn("could not delete session; its work is released at its deadline", {
            ...this.#fields(),
            error,
          });
        }
      }
      this.#held.clear();
      this.#context.onClosed(this);
    })();
    return this.#closing;
  }
}
