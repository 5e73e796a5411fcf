/**
 * Sessions: a component's heartbeated presence in the BMDB, under which it
 * runs transactions and takes work.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ClaimBatcher } from "./claim_batcher.ts";
import type { CommitBatcher } from "./commit_batcher.ts";
import type { Driver, Row } from "./driver.ts";
import {
  DatabaseError,
  MachineNotFoundError,
  NothingToDoError,
  SessionExpiredError,
  WorkConflictError,
} from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Process } from "./model.ts";
import { Query } from "./query.ts";
import type { Queries } from "./queries.ts";
import { closeSession, heartbeat, toHeartbeatResult } from "./queries_session.ts";
import { claimWork, explicitCandidate, takeOverWork } from "./queries_work.ts";
import { LOWEST_UUID } from "./queries_workflows.ts";
import { render, type Sql, sql } from "./sql.ts";
import { LazyTransaction, retrying } from "./transaction.ts";
import * as check from "./validate.ts";
import { Work, type WorkOwner } from "./work.ts";

const CLOSED = "closed";
/** How often a claim may lose its machine to another claim of the same batch before it reports a conflict. */
const MAX_LOST_IN_BATCH = 8;

/** What a session needs from the `Bmdb` that started it. */
export interface SessionContext {
  driver: Driver;
  claims: ClaimBatcher;
  commits: CommitBatcher;
  logger: Logger;
  counters: { claims: number; conflicts: number; transactionRetries: number };
  onClosed(session: Session): void;
}

/**
 * What `retrieve` may return: machine ids (or rows with `machineId`), or a
 * workflow query returned unawaited (then retrieval and lock are one statement
 * and the work carries the query's row as `work.machine`).
 */
export type Retrieved<R> = Query<R[]> | Promise<readonly (string | { machineId: string })[]>;

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
    const heldMachineIds = [...new Set([...this.#held.keys()].map((w) => w.machineId))];
    const { text, params } = render(heartbeat({ sessionId: this.sessionId, heldMachineIds }));
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
      signal: this.signal,
      driver: this.#context.driver,
      logger: this.#context.logger,
      assertAlive: () => this.#assertAlive(),
      expiredByDatabase: () => this.#expiredByDatabase(),
      transaction: () => this.#transaction(),
      retrying: (attempt) => this.#retrying(attempt),
      forget: (work) => this.#held.delete(work),
    };
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
    const work = await this.#retrying(async () => {
      const tx = this.#transaction();
      try {
        const returned = retrieve(tx.q);
        const run = (statement: Sql) => tx.started ? tx.run(statement) : tx.runAlone(statement);
        const claim = (candidates: Sql, candidatesExclude?: readonly Process[]) =>
          run(claimWork({ sessionId: this.sessionId, process: proc, candidates, candidatesExclude }));
        let row: Row;
        let map: ((rows: Row[]) => unknown[]) | undefined;
        const spec = returned instanceof Query ? returned.spec : undefined;
        if (
          spec?.kind === "candidates" && spec.firstEligible && spec.identity !== undefined &&
          !(returned as Query<R[]>).started && !tx.started
        ) {
          // One statement: walk the workflow's candidates from a random point
          // and lock the first. Past the last one, walk the ids below that point.
          (returned as Query<R[]>).markComposed();
          map = spec.map as (rows: Row[]) => unknown[];
          const firstEligible = spec.firstEligible;
          const exclude = spec.excludesLiveWorkOf;
          const identity = spec.identity;
          let start: string;
          // Shared with other sessions' claims of the same workflow. Losing a
          // machine to an earlier request of the same batch: walk again.
          for (let lost = 0;; lost++) {
            start = crypto.randomUUID();
            row = await this.#context.claims.claim({
              sessionId: this.sessionId,
              start,
              process: proc,
              firstEligible,
              candidatesExclude: exclude,
              identity,
            });
            if (!row.__lost || lost >= MAX_LOST_IN_BATCH) break;
          }
          if (Number(row.__alive) > 0 && row.machine_id == null) {
            row = (await claim(firstEligible(sql`${LOWEST_UUID}::uuid`, sql`${start}::uuid`), exclude))[0];
          }
        } else {
          const ids = await returned;
          if (!Array.isArray(ids) || ids.length === 0) throw new NothingToDoError(proc);
          const first = ids[0] as unknown;
          const id = check.uuid(
            "retrieve() result [0]",
            typeof first === "string" ? first : (first as { machineId?: unknown })?.machineId,
          );
          try {
            row = (await claim(explicitCandidate(id)))[0];
          } catch (error) {
            // A candidate that names no machine fails the slot's foreign key.
            if (error instanceof DatabaseError && error.code === "23503") {
              throw new MachineNotFoundError(id, { cause: error });
            }
            throw error;
          }
        }
        if (Number(row.__alive) === 0) throw this.#expiredByDatabase();
        if (row.machine_id == null) throw new NothingToDoError(proc);
        const machineId = row.machine_id as string;
        if (Number(row.__claimed) === 0) {
          // Held: by a dead session (take it over, recording Expired) or a live one (conflict).
          const takeover = (await run(takeOverWork({ sessionId: this.sessionId, process: proc, machineId })))[0];
          if (Number(takeover.__claimed) === 0) {
            this.#context.counters.conflicts++;
            throw new WorkConflictError(machineId, proc);
          }
        }
        await tx.commit();
        let machine: R | undefined;
        if (map) {
          // The mapper reads only its own columns; the claim's __ columns are ignored.
          machine = map([row])[0] as R;
        }
        return new Work<R | undefined>(this.#owner, {
          machineId,
          process: proc,
          machine,
        });
      } catch (error) {
        await tx.rollback();
        throw error;
      }
    });
    this.#context.counters.claims++;
    this.#held.set(work as Work<unknown>, true);
    this.#context.logger.debug("work started", { sessionId: this.sessionId, machineId: work.machineId, process: proc });
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
