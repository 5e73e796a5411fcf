/**
 * Records agents' signed requests, batched: concurrent requests share one
 * statement (see {@linkcode Batcher}), so thousands of heartbeats a second
 * cost tens of commits, not thousands.
 *
 * @module
 */
import { Batcher } from "./batcher.ts";
import type { Driver } from "./driver.ts";
import type { DatabaseError } from "./errors.ts";
import { type AgentReport, type AgentReportOutcome, recordAgentReports } from "./queries_agent.ts";
import { render } from "./sql.ts";
import { retrying } from "./transaction.ts";

const NEVER = new AbortController().signal;

export class AgentReportRecorder {
  readonly #batcher: Batcher<AgentReport, AgentReportOutcome>;

  /** `onRetry` learns of each retried statement (serialization failure, deadlock). */
  constructor(driver: Driver, onRetry: (error: DatabaseError) => void) {
    const run = async (reports: AgentReport[]): Promise<AgentReportOutcome[]> => {
      const { text, params } = render(recordAgentReports(reports));
      // READ COMMITTED: two replicas recording the same machine wait on its
      // row and re-check the heartbeat's time, so a replay still loses.
      const rows = await retrying(() => driver.query(text, params, "read committed"), { signal: NEVER, onRetry });
      return rows.map((r) => r.outcome as AgentReportOutcome);
    };
    this.#batcher = new Batcher(async (reports) => {
      // One statement cannot write a machine's heartbeat twice: a machine's
      // second request in a batch goes in a later round, after the first.
      const outcomes: AgentReportOutcome[] = new Array(reports.length);
      let pending = reports.map((report, index) => ({ report, index }));
      while (pending.length > 0) {
        const seen = new Set<string>();
        const round: typeof pending = [];
        const later: typeof pending = [];
        for (const p of pending) {
          if (seen.has(p.report.machineId)) later.push(p);
          else {
            seen.add(p.report.machineId);
            round.push(p);
          }
        }
        const results = await run(round.map((p) => p.report));
        round.forEach((p, i) => outcomes[p.index] = results[i]);
        pending = later;
      }
      return outcomes;
    }, { maxBatch: 500 });
  }

  record(report: AgentReport): Promise<AgentReportOutcome> {
    return this.#batcher.submit("", report);
  }

  /** Statements sent and reports served. */
  get stats(): { batches: number; requests: number } {
    return this.#batcher.stats;
  }
}
