/**
 * A commit and the same session's next claim in one statement
 * (`Work.finishAndClaim`, `commitAndClaimWork`), a bounded number at once.
 *
 * Such a statement is a worker's whole unit, so it is not batched: a caller
 * that finds {@linkcode FINISH_AND_CLAIM_IN_FLIGHT} of them under way sends
 * its commit and its claim separately instead, where concurrent sessions
 * share statements (`bmdb/batcher.ts`).
 *
 * @module
 */
import type { ClaimRequest } from "./claim_batcher.ts";
import type { CommitRequest } from "./commit_batcher.ts";
import { serializableRunner, type StatementRunner } from "./commit_statements.ts";
import type { Driver, Row } from "./driver.ts";
import type { DatabaseError } from "./errors.ts";
import { commitAndClaimWork } from "./queries_work.ts";
import { sql } from "./sql.ts";

/** A commit, and the claim to make if it is clean. */
export interface CommitAndClaimRequest {
  commit: CommitRequest;
  claim: ClaimRequest;
}

/**
 * Finish-and-claim statements of a process in flight at once. With one, every
 * other worker's unit split into a finish and a claim, and 4 workers made no
 * more units/s than one. Measured at 4 workers, 10,000 machines (2026-12-04,
 * 5 s runs): 1,645-1,674 units/s with 1 in flight, 1,824-1,852 with 2, 1,997
 * with 3, 2,201-2,266 with 4, 2,160-2,240 with 8 (retries 0.2-0.4 per 100
 * units); at 2 workers 1,605-1,664 with 1 against 1,933-2,030 with 8. The
 * runner uses finish-and-claim only below `FINISH_AND_CLAIM_BELOW` workers
 * (loops/runner.ts), so this bounds a process with more workers than that.
 */
export const FINISH_AND_CLAIM_IN_FLIGHT = 8;

/** Runs finish-and-claim statements, at most {@linkcode FINISH_AND_CLAIM_IN_FLIGHT} at once. */
export class CommitAndClaimRunner {
  readonly #run: StatementRunner;
  #inFlight = 0;
  /** Statements sent and units served (the same here: one statement per unit). */
  readonly stats = { batches: 0, requests: 0 };

  /** `onRetry` learns of each serialization failure. */
  constructor(driver: Driver, onRetry: (error: DatabaseError, units: number) => void) {
    this.#run = serializableRunner(driver, onRetry);
  }

  /**
   * Runs `request` as one statement and resolves with its row: the commit's
   * outcome, then the claim's candidate columns and `__claimed`. Returns
   * undefined, sending nothing, while the limit's worth are in flight.
   */
  tryRun({ commit, claim }: CommitAndClaimRequest): Promise<Row> | undefined {
    if (this.#inFlight >= FINISH_AND_CLAIM_IN_FLIGHT) return undefined;
    this.#inFlight++;
    this.stats.batches++;
    this.stats.requests++;
    const statement = commitAndClaimWork(commit, {
      sessionId: claim.sessionId,
      process: claim.process,
      candidates: claim.firstEligible(sql`${claim.start}::uuid`),
      candidatesExclude: claim.candidatesExclude,
    });
    return this.#run(statement, 1).then((rows) => rows[0] ?? {}).finally(() => this.#inFlight--);
  }
}
