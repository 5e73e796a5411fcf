/**
 * The cost of an idle poll: a claim when no machine is eligible. A workflow
 * query walks the provider's machines from a random point and wraps around,
 * so finding nothing means probing every machine of the fleet.
 *
 * @module
 */
import { type Bmdb, NothingToDoError, Process, Provider } from "../bmdb/mod.ts";
import { markEveryAgentStarted } from "./fleet.ts";
import { median } from "./percentile.ts";
import type { RawSql } from "./raw_sql.ts";

/** Timings of claims that found nothing. */
export interface IdlePollResult {
  machines: number;
  polls: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
}

/**
 * Marks every machine's agent as started (so none is eligible), then times
 * `polls` claims, one after another, on one session. Leaves the marks for the
 * caller's next reset.
 * @throws {Error} a claim found a machine after all.
 */
export async function measureIdlePoll(
  bmdb: Bmdb,
  raw: RawSql,
  options: { machines: number; polls: number },
): Promise<IdlePollResult> {
  await markEveryAgentStarted(raw);
  const session = await bmdb.startSession();
  const samples: number[] = [];
  try {
    for (let i = 0; i < options.polls; i++) {
      const started = performance.now();
      try {
        const work = await session.work(
          Process.ShepherdAgentStart,
          (q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1 }),
        );
        await work.cancel();
        throw new Error(`An idle poll claimed machine ${work.machineId}, though every agent was started`);
      } catch (error) {
        if (!(error instanceof NothingToDoError)) throw error;
      }
      samples.push(performance.now() - started);
    }
  } finally {
    await session.close();
  }
  return {
    machines: options.machines,
    polls: samples.length,
    medianMs: median(samples),
    minMs: Math.min(...samples),
    maxMs: Math.max(...samples),
  };
}
