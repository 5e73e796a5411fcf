/**
 * Phase 1 of work: find a machine and lock it for a process.
 *
 * Two routes, same outcome:
 * - `retrieve` returned a workflow query unawaited: the claim is one
 *   statement, shared with other sessions' claims of the same workflow
 *   (`ClaimBatcher`). It walks the candidates from a random point; past the
 *   last one it walks the ids below that point.
 * - `retrieve` returned machine ids (or awaited queries to find them): the
 *   first id is locked in the transaction its queries ran in.
 *
 * Either way, a machine held by a dead session is taken over (history Expired
 * for the old holder), and one held by a live session is a conflict.
 *
 * @module
 */
import type { ClaimBatcher, ClaimRequest } from "./claim_batcher.ts";
import type { Row } from "./driver.ts";
import {
  DatabaseError,
  MachineNotFoundError,
  NothingToDoError,
  type SessionExpiredError,
  WorkConflictError,
} from "./errors.ts";
import type { Process } from "./model.ts";
import { Query, type QuerySpec } from "./query.ts";
import type { Queries } from "./queries.ts";
import { claimWork, explicitCandidate, takeOverWork } from "./queries_work.ts";
import { LOWEST_UUID } from "./queries_workflows.ts";
import { type Sql, sql } from "./sql.ts";
import type { LazyTransaction } from "./transaction.ts";
import * as check from "./validate.ts";

/** How often a claim may lose its machine to another claim of the same batch before it reports a conflict. */
const MAX_LOST_IN_BATCH = 8;

/**
 * What `retrieve` may return: machine ids (or rows with `machineId`), or a
 * workflow query unawaited (then retrieval and lock are one statement and the
 * work carries the query's row as `work.machine`).
 */
export type Retrieved<R> = Query<R[]> | Promise<readonly (string | { machineId: string })[]>;

/** What a claim needs from its session. */
export interface ClaimContext {
  sessionId: string;
  process: Process;
  /** A fresh transaction for this attempt (checks the session's liveness). */
  transaction: LazyTransaction;
  claims: ClaimBatcher;
  /** The database said the session is dead: returns the error to throw. */
  expiredByDatabase(): SessionExpiredError;
  onConflict(): void;
}

/** The locked machine, and the row `retrieve`'s query gave for it (if it returned a query). */
export interface Claimed {
  machineId: string;
  machine: unknown;
}

/**
 * A workflow a claim statement can embed: `retrieve` returned a candidates
 * query unawaited, and nothing ran in its transaction yet.
 */
export interface EmbeddableWorkflow {
  firstEligible: NonNullable<QuerySpec<unknown>["firstEligible"]>;
  identity: string;
  exclude?: readonly Process[];
  /** Turns the claim's row into `work.machine`. */
  map: (rows: Row[]) => unknown[];
}

/**
 * What `retrieve` returned, as a workflow to embed into a claim (the query is
 * then marked composed: the claim runs it); undefined when it cannot be.
 */
export function embeddableWorkflow(returned: unknown, tx: LazyTransaction): EmbeddableWorkflow | undefined {
  if (!(returned instanceof Query) || returned.started || tx.started) return undefined;
  const spec = returned.spec as QuerySpec<unknown[]>;
  if (spec.kind !== "candidates" || !spec.firstEligible || spec.identity === undefined) return undefined;
  returned.markComposed();
  return {
    firstEligible: spec.firstEligible,
    identity: spec.identity,
    exclude: spec.excludesLiveWorkOf,
    map: spec.map,
  };
}

/** A claim request walking `workflow` from a random start, for the claim batchers. */
export function workflowClaimRequest(sessionId: string, process: Process, workflow: EmbeddableWorkflow): ClaimRequest {
  return {
    sessionId,
    start: crypto.randomUUID(),
    process,
    firstEligible: workflow.firstEligible,
    candidatesExclude: workflow.exclude,
    identity: workflow.identity,
  };
}

/**
 * One attempt at claiming (the caller retries on serialization failures).
 * @throws {NothingToDoError} no candidate.
 * @throws {WorkConflictError} a live session holds the first candidate.
 * @throws {MachineNotFoundError} the first candidate names no machine.
 * @throws {SessionExpiredError} the database reports the session dead.
 * @throws {InvalidArgumentError} a candidate that is not a UUID.
 */
export async function claimMachine<R extends { machineId: string }>(
  ctx: ClaimContext,
  retrieve: (q: Queries) => Retrieved<R>,
): Promise<Claimed> {
  const tx = ctx.transaction;
  try {
    const returned = retrieve(tx.q);
    const workflow = embeddableWorkflow(returned, tx);
    const row = workflow ? await claimThroughWorkflow(ctx, workflow) : await claimById(ctx, await returned);
    if (Number(row.__alive) === 0) throw ctx.expiredByDatabase();
    if (row.machine_id == null) throw new NothingToDoError(ctx.process);
    const machineId = row.machine_id as string;
    if (Number(row.__claimed) === 0) {
      // Held: by a dead session (take it over, recording Expired) or a live one (conflict).
      const takeover = (await run(tx, takeOverWork({ sessionId: ctx.sessionId, process: ctx.process, machineId })))[0];
      if (Number(takeover.__claimed) === 0) {
        ctx.onConflict();
        throw new WorkConflictError(machineId, ctx.process);
      }
    }
    await tx.commit();
    // The mapper reads only its own columns; the claim's __ columns are ignored.
    return { machineId, machine: workflow ? workflow.map([row])[0] : undefined };
  } catch (error) {
    await tx.rollback();
    throw error;
  }
}

/** Runs a self-contained statement in the transaction if it began, else on its own. */
function run(tx: LazyTransaction, statement: Sql): Promise<Row[]> {
  return tx.started ? tx.run(statement) : tx.runAlone(statement);
}

async function claimThroughWorkflow(ctx: ClaimContext, workflow: EmbeddableWorkflow): Promise<Row> {
  let request: ClaimRequest;
  let row: Row;
  // Shared with other sessions' claims of the same workflow. A request that
  // lost its machine to an earlier one of the same batch walks again.
  for (let lost = 0;; lost++) {
    request = workflowClaimRequest(ctx.sessionId, ctx.process, workflow);
    row = await ctx.claims.claim(request);
    if (!row.__lost || lost >= MAX_LOST_IN_BATCH) break;
  }
  if (Number(row.__alive) > 0 && row.machine_id == null) {
    // Nothing from the start to the end: walk the ids below the start.
    const candidates = workflow.firstEligible(sql`${LOWEST_UUID}::uuid`, sql`${request.start}::uuid`);
    row = (await run(
      ctx.transaction,
      claimWork({ sessionId: ctx.sessionId, process: ctx.process, candidates, candidatesExclude: workflow.exclude }),
    ))[0];
  }
  return row;
}

async function claimById(ctx: ClaimContext, ids: unknown): Promise<Row> {
  if (!Array.isArray(ids) || ids.length === 0) throw new NothingToDoError(ctx.process);
  const first = ids[0] as unknown;
  const id = check.uuid(
    "retrieve() result [0]",
    typeof first === "string" ? first : (first as { machineId?: unknown })?.machineId,
  );
  try {
    return (await run(
      ctx.transaction,
      claimWork({ sessionId: ctx.sessionId, process: ctx.process, candidates: explicitCandidate(id) }),
    ))[0];
  } catch (error) {
    // A candidate that names no machine fails the slot's foreign key.
    if (error instanceof DatabaseError && error.code === "23503") throw new MachineNotFoundError(id, { cause: error });
    throw error;
  }
}
