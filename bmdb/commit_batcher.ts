/**
 * Commits (finishes whose tag writes are composed into the statement),
 * batched across the sessions of a process: see {@linkcode Batcher} and
 * `commitWorkBatch`.
 *
 * @module
 */
import { Batcher } from "./batcher.ts";
import type { Driver, Row } from "./driver.ts";
import { DatabaseError } from "./errors.ts";
import { type Commit, commitWork, commitWorkBatch } from "./queries_work.ts";
import { render, type Sql } from "./sql.ts";
import { retrying } from "./transaction.ts";

/** A commit, with what makes its statement shape: the tag queries' names. */
export interface CommitRequest extends Commit {
  tagNames: readonly string[];
}

const NEVER = new AbortController().signal;

/** PostgreSQL's "ON CONFLICT DO UPDATE command cannot affect row a second time": two commits wrote one row. */
const SAME_ROW_TWICE = "21000";

/** A batcher whose batches are one `commitWorkBatch` statement each. */
export class CommitBatcher {
  readonly #batcher: Batcher<CommitRequest, Row>;

  /** `onRetry` learns of each serialization failure and how many commits it sends again. */
  constructor(driver: Driver, onRetry: (error: DatabaseError, commits: number) => void) {
    const run = async (statement: Sql, commits: number) => {
      const { text, params } = render(statement);
      return await retrying(() => driver.query(text, params, "serializable"), {
        signal: NEVER,
        onRetry: (error) => onRetry(error, commits),
      });
    };
    this.#batcher = new Batcher(async (requests) => {
      if (requests.length === 1) return await run(commitWork(requests[0]), 1);
      try {
        const rows = await run(commitWorkBatch(requests), requests.length);
        const byRequest = new Map(rows.map((r) => [Number(r.__req), r]));
        return requests.map((_, i) => byRequest.get(i + 1) ?? {});
      } catch (error) {
        // Tag writes of two commits met on one row: commit them one by one.
        if (!(error instanceof DatabaseError && error.code === SAME_ROW_TWICE)) throw error;
        return await Promise.all(requests.map(async (r) => (await run(commitWork(r), 1))[0]));
      }
    }, { maxBatch: 32 });
  }

  /** Statements sent and commits served. */
  get stats(): { batches: number; requests: number } {
    return this.#batcher.stats;
  }

  /** Commits with others of the same process and tag shape, in one statement. Resolves with this commit's outcome row. */
  commit(request: CommitRequest): Promise<Row> {
    return this.#batcher.submit(`${request.work.process}|${request.tagNames.join(",")}`, request);
  }
}
