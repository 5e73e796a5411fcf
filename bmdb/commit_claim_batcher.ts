/**
 * A commit and the same session's next claim in one statement, batched across
 * the sessions of a process: see `Work.finishAndClaim`, {@linkcode Batcher}
 * and `commitAndClaimWorkBatch`.
 *
 * @module
 */
import { Batcher } from "./batcher.ts";
import type { ClaimRequest } from "./claim_batcher.ts";
import type { CommitRequest } from "./commit_batcher.ts";
import { runCommits, serializableRunner } from "./commit_statements.ts";
import type { Driver, Row } from "./driver.ts";
import type { DatabaseError } from "./errors.ts";
import { commitAndClaimWork, commitAndClaimWorkBatch } from "./queries_work.ts";
import { type Sql, sql } from "./sql.ts";

/** A commit, and the claim to make if it is clean. */
export interface CommitAndClaimRequest {
  commit: CommitRequest;
  claim: ClaimRequest;
}

function single({ commit, claim }: CommitAndClaimRequest): Sql {
  return commitAndClaimWork(commit, {
    sessionId: claim.sessionId,
    process: claim.process,
    candidates: claim.firstEligible(sql`${claim.start}::uuid`),
    candidatesExclude: claim.candidatesExclude,
  });
}

function keyOf({ commit, claim }: CommitAndClaimRequest): string {
  return `${commit.work.process}|${commit.tagNames.join(",")}|${claim.process}|` +
    `${(claim.candidatesExclude ?? []).join(",")}|${claim.identity}`;
}

/**
 * Statements of one shape in flight at once before requests queue and share
 * one. A finish-and-claim is a worker's whole unit: with one in flight, every
 * other worker's unit waited for it or split into a finish and a claim, and 4
 * workers made no more units/s than one. Measured at 4 workers, 10,000
 * machines (2026-12-04, 5 s runs): 1,645-1,674 units/s with 1 in flight,
 * 1,824-1,852 with 2, 1,997 with 3, 2,201-2,266 with 4, 2,160-2,240 with 8
 * (retries 0.2-0.4 per 100 units); at 2 workers 1,605-1,664 with 1 against
 * 1,933-2,030 with 8. The runner uses finish-and-claim only below
 * `FINISH_AND_CLAIM_BELOW` workers (loops/runner.ts), so this bounds a process
 * with more workers than that, not the runner's.
 */
const IN_FLIGHT = 8;

/** A batcher whose batches are one `commitAndClaimWorkBatch` statement each. */
export class CommitAndClaimBatcher {
  readonly #batcher: Batcher<CommitAndClaimRequest, Row>;

  /** `onRetry` learns of each serialization failure and how many units it sends again. */
  constructor(driver: Driver, onRetry: (error: DatabaseError, units: number) => void) {
    const run = serializableRunner(driver, onRetry);
    const batch = (requests: CommitAndClaimRequest[]) => {
      const first = requests[0].claim;
      return commitAndClaimWorkBatch(requests.map((r) => r.commit), {
        process: first.process,
        requests: requests.map((r) => r.claim),
        firstEligible: first.firstEligible,
        candidatesExclude: first.candidatesExclude,
      });
    };
    this.#batcher = new Batcher((requests) => runCommits(run, requests, single, batch), {
      maxBatch: 32,
      maxInFlight: IN_FLIGHT,
    });
  }

  /** Statements sent and units served. */
  get stats(): { batches: number; requests: number } {
    return this.#batcher.stats;
  }

  /**
   * Runs with others of the same process, tag shape and workflow, in one
   * statement. Resolves with this request's row: its commit's outcome, then its
   * claim's candidate columns, `__claimed` (and `__lost` in a batch).
   */
  run(request: CommitAndClaimRequest): Promise<Row> {
    return this.#batcher.submit(keyOf(request), request);
  }

  /** Whether `request` would wait for a statement of its shape already in flight. */
  busy(request: CommitAndClaimRequest): boolean {
    return this.#batcher.busy(keyOf(request));
  }
}
