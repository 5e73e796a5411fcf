/**
 * Claims through workflow queries, batched across the sessions of a process:
 * see {@linkcode Batcher} and `claimWorkBatch`.
 *
 * @module
 */
import { Batcher } from "./batcher.ts";
import type { Driver, Row } from "./driver.ts";
import type { DatabaseError } from "./errors.ts";
import type { Process } from "./model.ts";
import { claimWork, claimWorkBatch } from "./queries_work.ts";
import { render, type Sql, sql } from "./sql.ts";
import { retrying } from "./transaction.ts";

/** One session's claim: walk `firstEligible` from `start`, lock the first machine. */
export interface ClaimRequest {
  sessionId: string;
  start: string;
  process: Process;
  /** The workflow: see `QuerySpec.firstEligible`, `excludesLiveWorkOf` and `identity`. */
  firstEligible: (from: Sql) => Sql;
  candidatesExclude?: readonly Process[];
  identity: string;
}

const NEVER = new AbortController().signal;

/** A batcher whose batches are one `claimWorkBatch` statement each. */
export class ClaimBatcher {
  readonly #batcher: Batcher<ClaimRequest, Row>;
  // Rendered statement per batch key: the text and the parameters after the
  // two arrays ($1 sessions, $2 starts), which are the same for the whole key.
  readonly #statements = new Map<string, { text: string; rest: unknown[] }>();

  /** `onRetry` learns of each serialization failure and how many claims it sends again. */
  constructor(driver: Driver, onRetry: (error: DatabaseError, claims: number) => void) {
    const query = (text: string, params: unknown[], claims: number) =>
      retrying(() => driver.query(text, params, "serializable"), {
        signal: NEVER,
        onRetry: (error) => onRetry(error, claims),
      });
    this.#batcher = new Batcher(async (requests) => {
      const first = requests[0];
      if (requests.length === 1) {
        // Alone: the plain claim statement, lighter than the batch form.
        const { text, params } = render(claimWork({
          sessionId: first.sessionId,
          process: first.process,
          candidates: first.firstEligible(sql`${first.start}::uuid`),
          candidatesExclude: first.candidatesExclude,
        }));
        return await query(text, params, 1);
      }
      const key = this.#key(first);
      let statement = this.#statements.get(key);
      if (!statement) {
        const { text, params } = render(claimWorkBatch({
          process: first.process,
          requests: [first],
          firstEligible: first.firstEligible,
          candidatesExclude: first.candidatesExclude,
        }));
        statement = { text, rest: params.slice(2) };
        this.#statements.set(key, statement);
      }
      const params = [requests.map((r) => r.sessionId), requests.map((r) => r.start), ...statement.rest];
      // A serialization failure fails the whole statement: run it again for all.
      const rows = await query(statement.text, params, requests.length);
      const byRequest = new Map(rows.map((r) => [Number(r.__req), r]));
      return requests.map((_, i) => byRequest.get(i + 1) ?? {});
    });
  }

  #key(request: ClaimRequest): string {
    return `${request.process}|${(request.candidatesExclude ?? []).join(",")}|${request.identity}`;
  }

  /** Statements sent and claims served. */
  get stats(): { batches: number; requests: number } {
    return this.#batcher.stats;
  }

  /**
   * Claims with others that walk the same candidates (same workflow and
   * parameters), in one statement. Resolves with this request's row.
   */
  claim(request: ClaimRequest): Promise<Row> {
    return this.#batcher.submit(this.#key(request), request);
  }
}
