/**
 * Work on one machine: phases 2 (side effects, under `work.signal`) and 3
 * (commit: exactly one of `finish`, `fail`, `cancel`).
 *
 * @module
 */
import { type Backoff, nextBackoffSeconds, validateBackoff } from "./backoff.ts";
import { type Claimed, type EmbeddableWorkflow, embeddableWorkflow, workflowClaimRequest } from "./claim.ts";
import type { CommitBatcher, CommitRequest } from "./commit_batcher.ts";
import type { CommitAndClaimRunner } from "./commit_and_claim.ts";
import type { Row } from "./driver.ts";
import { NothingToDoError, type SessionExpiredError, WorkCanceledError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Process } from "./model.ts";
import { Query } from "./query.ts";
import type { Queries } from "./queries.ts";
import {
  commitWork,
  failWork,
  lastBackoffInterval,
  releaseWork,
  toWorkOutcome,
  type WorkOutcome,
} from "./queries_work.ts";
import type { LazyTransaction } from "./transaction.ts";
import * as check from "./validate.ts";

/** What `Work` needs from the session that holds it. */
export interface WorkOwner {
  readonly sessionId: string;
  readonly commits: CommitBatcher;
  readonly commitsAndClaims: CommitAndClaimRunner;
  /** An ordinary claim of the session (`Session.work`). */
  claim<R extends { machineId: string }>(process: Process, retrieve: (q: Queries) => Query<R[]>): Promise<Work<R>>;
  /** A machine claimed by `finishAndClaim` becomes the session's work. */
  adopt(process: Process, claimed: Claimed): Work<unknown>;
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** @throws {SessionExpiredError} when the session is over. */
  assertAlive(): void;
  /** The database said the session is dead: expire it here too. Returns the error to throw. */
  expiredByDatabase(): SessionExpiredError;
  /** A fresh transaction that checks this session's liveness. */
  transaction(): LazyTransaction;
  /** Runs `attempt` again after serialization failures. */
  retrying<T>(attempt: () => Promise<T>): Promise<T>;
  /** The work is over (committed or abandoned): stop tracking it. */
  forget(work: Work<unknown>): void;
  /**
   * Runs `claim`, which may lock a machine for the session (up to adopting
   * it), once the session holds no work it does not know of.
   */
  claiming<T>(claim: () => Promise<T>): Promise<T>;
  /**
   * A release (finish, fail, cancel) failed after the work was forgotten: the
   * database may still hold the machine for the session, which releases it
   * before its next claim.
   */
  releaseFailed(): void;
}

/** Returned by a `finish` function: nothing, a tag write, several, or a promise. */
export type FinishResult = unknown;

function composableTags(value: unknown): Query<unknown>[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || !list.every((v) => v instanceof Query && v.spec.kind === "tag" && !v.started)) {
    return undefined;
  }
  return list as Query<unknown>[];
}

/**
 * A machine locked for one process by one session. Created by
 * `Session.work()`; ends with exactly one of `finish`, `fail` or `cancel`
 * (until then, the machine stays locked while the session lives).
 */
export class Work<R = unknown> {
  /** The locked machine. */
  readonly machineId: string;
  readonly process: Process;
  /**
   * The row `retrieve` produced for this machine, when it returned a query
   * (e.g. the `MachineProvided` row of `getMachinesForAgentStart`); otherwise undefined.
   */
  readonly machine: R | undefined;
  /**
   * Aborts when the work should stop: its session expired or closed, or an
   * operator asked to cancel it (reason: `WorkCanceledError`).
   */
  readonly signal: AbortSignal;

  readonly #owner: WorkOwner;
  readonly #cancel = new AbortController();
  #done: string | undefined;

  /** @internal Created by `Session.work()`. */
  constructor(
    owner: WorkOwner,
    init: { machineId: string; process: Process; machine: R | undefined },
  ) {
    this.#owner = owner;
    this.machineId = init.machineId;
    this.process = init.process;
    this.machine = init.machine;
    this.signal = AbortSignal.any([owner.signal, this.#cancel.signal]);
  }

  /** @internal The heartbeat saw an operator's cancel request. */
  cancelRequested(actor: string | null): void {
    if (!this.#cancel.signal.aborted) {
      this.#cancel.abort(new WorkCanceledError(this.machineId, this.process, actor));
    }
  }

  /**
   * @internal The heartbeat found the database no longer holds this work for
   * its session: the row is gone, as after a failover whose new primary never
   * had the claim, and another session may claim the machine. The work
   * stops (`signal` aborts with a `WorkCanceledError` naming no operator);
   * its `finish` would commit nothing anyway. Ignored once a release began
   * (the release itself may be what freed the row).
   */
  lost(): void {
    if (this.#done || this.#cancel.signal.aborted) return;
    this.#owner.logger.warn("work lost: the database no longer holds it for its session; stopping it", this.#fields());
    this.#cancel.abort(
      new WorkCanceledError(this.machineId, this.process, null, {
        cause: new Error("the database no longer holds this work for its session"),
      }),
    );
  }

  #fields() {
    return { machineId: this.machineId, process: this.process, sessionId: this.#owner.sessionId };
  }

  #start(phase: string): void {
    if (this.#done) {
      throw new Error(`Cannot ${phase} ${this.process} on machine ${this.machineId}: it already ended (${this.#done})`);
    }
    this.#done = phase;
  }

  #key() {
    return { sessionId: this.#owner.sessionId, machineId: this.machineId, process: this.process };
  }

  /**
   * Commits the work: in one transaction, checks the work is still this
   * session's and not canceled, releases the machine, clears its backoff,
   * writes Finished and runs `fn(q)` (which sets the tags that make the machine
   * ineligible again). Return tag writes unawaited (`q => q.machineSetAgentStarted(...)`,
   * or an array of them) and all of it is one statement; a function that awaits
   * runs in a transaction instead. `fn` may run more than once (retries).
   *
   * @throws {WorkCanceledError} an operator canceled the work: nothing of `fn` was
   *   committed and the machine was released (one Canceled row).
   * @throws {SessionExpiredError} the session is over; the machine is released when its deadline passes.
   */
  async finish(fn: (q: Queries) => FinishResult): Promise<void> {
    await this.#finish(fn, (commit) => this.#owner.commits.commit(commit));
  }

  /**
   * Finishes this work and claims the next machine for the same process, in
   * one statement: a worker's steady state in one round trip (while a process
   * has many of these under way, the finish and the claim go separately, and
   * are shared with other sessions' commits and claims). The claim happens
   * only if the finish committed cleanly. Both `fn` and `retrieve` must return
   * their queries unawaited (tag writes; a workflow query); otherwise this is
   * `finish(fn)` followed by `session.work(process, retrieve)`. Either may run
   * more than once.
   *
   * Resolves with the next work, or `undefined` when no machine is eligible
   * (the finish is committed either way).
   * @throws {WorkCanceledError} as `finish`: nothing of `fn` committed, and nothing claimed.
   * @throws {SessionExpiredError} the session is over.
   */
  async finishAndClaim<R extends { machineId: string }>(
    fn: (q: Queries) => FinishResult,
    retrieve: (q: Queries) => Query<R[]>,
  ): Promise<Work<R> | undefined> {
    // The finish may claim: the session's claim rules hold for it (see `WorkOwner.claiming`).
    const adopted = await this.#owner.claiming(async () => {
      let claimed: { row: Row; workflow: EmbeddableWorkflow } | undefined;
      await this.#finish(fn, async (commit, tx) => {
        claimed = undefined;
        const workflow = embeddableWorkflow(retrieve(tx.q), tx);
        if (!workflow) return await this.#owner.commits.commit(commit);
        const request = { commit, claim: workflowClaimRequest(this.#owner.sessionId, this.process, workflow) };
        // While the process has its limit of these under way, the finish goes
        // with the other commits and the claim with the other claims, where
        // sessions share statements.
        const running = this.#owner.commitsAndClaims.tryRun(request);
        if (!running) return await this.#owner.commits.commit(commit);
        const row = await running;
        claimed = { row, workflow };
        return row;
      });
      const got = claimed as { row: Row; workflow: EmbeddableWorkflow } | undefined;
      if (!got || Number(got.row.__claimed) === 0 || got.row.machine_id == null) return undefined;
      return this.#owner.adopt(this.process, {
        machineId: got.row.machine_id as string,
        machine: got.workflow.map([got.row])[0],
      }) as Work<R>;
    });
    // No combined claim, or it did not lock a machine (none found from its
    // start, or held): an ordinary claim decides.
    return adopted ?? await this.#claimOrNothing(retrieve);
  }

  /**
   * The finish: `fn` runs once per attempt on a fresh transaction. Unawaited
   * tag writes go to `composed` as one statement; anything else runs in the
   * transaction, followed by the commit.
   */
  async #finish(
    fn: (q: Queries) => FinishResult,
    composed: (commit: CommitRequest, tx: LazyTransaction) => Promise<Row>,
  ): Promise<void> {
    this.#start("finish");
    this.#owner.assertAlive();
    let outcome: WorkOutcome;
    let wasComposed = true;
    try {
      outcome = await this.#owner.retrying(async () => {
        const tx = this.#owner.transaction();
        try {
          const returned = fn(tx.q);
          const tags = tx.started ? undefined : composableTags(returned);
          let rows: Row[];
          if (tags) {
            // One statement, shared with other sessions' commits of the same shape.
            tags.forEach((t) => t.markComposed());
            rows = [
              await composed({
                work: this.#key(),
                tags: tags.map((t) => t.spec),
                tagNames: tags.map((t) => t.spec.name),
              }, tx),
            ];
          } else {
            wasComposed = false;
            await returned;
            const commit = commitWork({ work: this.#key(), tags: [] });
            rows = tx.started ? await tx.run(commit) : await tx.runAlone(commit);
          }
          const result = toWorkOutcome(rows);
          // Commit fn's writes only with a clean release; otherwise undo them
          // (a canceled work is then released below, on its own).
          if (result.alive && result.released && !result.cancelRequested) await tx.commit();
          else await tx.rollback();
          return result;
        } catch (error) {
          await tx.rollback();
          throw error;
        }
      });
    } catch (error) {
      this.#owner.forget(this);
      this.#owner.releaseFailed();
      throw error;
    }
    this.#owner.forget(this);
    if (!outcome.alive) throw this.#owner.expiredByDatabase();
    if (outcome.released && !outcome.cancelRequested) {
      this.#owner.logger.debug("work finished", this.#fields());
      return;
    }
    if (!wasComposed && outcome.released) {
      // The transaction that found the cancel request was rolled back; release now.
      outcome = toWorkOutcome(
        await this.#owner.retrying(() => this.#owner.transaction().runAlone(releaseWork(this.#key()))),
      );
    }
    this.#owner.logger.info("work canceled before it could finish", { ...this.#fields(), actor: outcome.canceledBy });
    throw new WorkCanceledError(this.machineId, this.process, outcome.canceledBy);
  }

  async #claimOrNothing<R extends { machineId: string }>(
    retrieve: (q: Queries) => Query<R[]>,
  ): Promise<Work<R> | undefined> {
    try {
      return await this.#owner.claim(this.process, retrieve);
    } catch (error) {
      if (error instanceof NothingToDoError) return undefined;
      throw error;
    }
  }

  /**
   * Fails the work: releases the machine, writes Failed with `cause`, and keeps
   * the machine out of this process's workflow for the next backoff interval.
   * If an operator had asked to cancel it, it is released as Canceled instead,
   * without a backoff.
   *
   * @throws {InvalidArgumentError} for a negative or non-finite backoff field, or an empty cause (nothing written; the work is still held).
   * @throws {SessionExpiredError} the session is over.
   */
  async fail(backoff: Backoff, cause: string): Promise<void> {
    const policy = validateBackoff("backoff", backoff);
    const reason = check.text("cause", cause, { maxLength: 64 * 1024 });
    this.#start("fail");
    try {
      this.#owner.assertAlive();
      // The interval grows from what the last failure stored, read in the same
      // transaction as the write (an operator's retry meanwhile restarts it).
      const outcome = await this.#owner.retrying(async () => {
        const tx = this.#owner.transaction();
        try {
          const last = await tx.run(lastBackoffInterval(this.#key()));
          const previous = last.length > 0 ? Number(last[0].last_interval_seconds) : null;
          const seconds = nextBackoffSeconds(policy, previous);
          const result = toWorkOutcome(await tx.run(failWork(this.#key(), { cause: reason, seconds })));
          await tx.commit();
          return result;
        } catch (error) {
          await tx.rollback();
          throw error;
        }
      });
      if (!outcome.alive) throw this.#owner.expiredByDatabase();
      this.#owner.logger.debug(outcome.cancelRequested ? "work canceled" : "work failed", {
        ...this.#fields(),
        cause: reason,
      });
    } catch (error) {
      this.#owner.releaseFailed();
      throw error;
    } finally {
      this.#owner.forget(this);
    }
  }

  /**
   * Releases the machine without finishing (Canceled). Idempotent, and never
   * throws: a failure is logged, and the machine is released before the
   * session's next claim, or when it ends. After the session expired it does
   * nothing.
   */
  async cancel(): Promise<void> {
    if (this.#done) return;
    this.#done = "cancel";
    try {
      if (this.#owner.signal.aborted) return;
      await this.#owner.retrying(() => this.#owner.transaction().runAlone(releaseWork(this.#key())));
    } catch (error) {
      this.#owner.releaseFailed();
      this.#owner.logger.warn("could not cancel work; it is released by the session's next claim or its end", {
        ...this.#fields(),
        error,
      });
    } finally {
      this.#owner.forget(this);
    }
  }
}
