/**
 * Commits (finishes whose tag writes are composed into the statement),
 * batched across the sessions of a process: see {@linkcode Batcher} and
 * `commitWorkBatch`.
 *
 * @module
 */
import { Batcher } from "./batcher.ts";
import type { Driver, Row } from "./driver.ts";
import { runCommits, serializableRunner } from "./commit_statements.ts";
import type { DatabaseError } from "./errors.ts";
import { type Commit, commitWork, commitWorkBatch } from "./queries_work.ts";

/** A commit, with what makes its statement shape: the tag queries' names. */
export interface CommitRequest extends Commit {
  tagNames: readonly string[];
}

/** A batcher whose batches are one `commitWorkBatch` statement each. */
export class CommitBatcher {
  readonly #batcher: Batcher<CommitRequest, Row>;

  /** `onRetry` learns of each serialization failure and how many commits it sends again. */
  constructor(driver: Driver, onRetry: (error: DatabaseError, commits: number) => void) {
    const run = serializableRunner(driver, onRetry);
    this.#batcher = new Batcher(
      (requests) => runCommits(run, requests, commitWork, commitWorkBatch),
      { maxBatch: 32 },
    );
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
