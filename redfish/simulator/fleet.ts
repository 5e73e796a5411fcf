/**
 * Many BMCs in one process, one origin (port) each, for the benchmark and
 * the demo (`deno task bmc-sim --bmcs N`).
 *
 * @module
 */
import type { BmcSimulatorOptions } from "./config.ts";
import { type BmcSimulator, startBmcSimulator } from "./simulator.ts";

/** BMCs started at once while a fleet starts (listening is quick; this bounds the burst). */
const START_BATCH = 250;

/** A fleet's counters, summed or maximised over its BMCs. */
export interface BmcFleetStats {
  /** BMCs in the fleet. */
  bmcs: number;
  /** Requests received, summed. */
  requests: number;
  /** The highest `maxInFlight` of any one BMC. */
  maxInFlightPerBmc: number;
  /** The highest `maxSessionsOpen` of any one BMC. */
  maxSessionsPerBmc: number;
  /** Sessions open now, summed. */
  sessionsOpen: number;
  /** Sessions created, summed. */
  sessionsCreated: number;
  /** Replies by status, summed (see BmcStats.byStatus). */
  byStatus: Record<string, number>;
}

/** Running BMCs. Close them with `close()` or `await using`. */
export interface BmcFleet extends AsyncDisposable {
  /** The BMCs, in start order. */
  readonly bmcs: readonly BmcSimulator[];
  /** The counters now. */
  stats(): BmcFleetStats;
  /** Closes every BMC. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts `count` BMCs, each on a free port of `options.hostname`, all with
 * the same options (`faults` are per BMC).
 * @throws {RangeError} for a count < 1 or options out of range (nothing is left running)
 * @throws the listen error of a BMC that could not start (the others are closed first)
 */
export async function startBmcFleet(
  options: { count: number } & Omit<BmcSimulatorOptions, "port">,
): Promise<BmcFleet> {
  const { count, ...bmcOptions } = options;
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`Cannot start a BMC fleet: count must be an integer >= 1: current value is ${count}`);
  }
  const bmcs: BmcSimulator[] = [];
  try {
    for (let first = 0; first < count; first += START_BATCH) {
      const batch = Math.min(START_BATCH, count - first);
      const started = await Promise.allSettled(
        Array.from({ length: batch }, () => startBmcSimulator({ ...bmcOptions, port: 0 })),
      );
      for (const result of started) if (result.status === "fulfilled") bmcs.push(result.value);
      const failed = started.find((result) => result.status === "rejected");
      if (failed) throw failed.reason;
    }
  } catch (error) {
    await Promise.all(bmcs.map((bmc) => bmc.close()));
    throw error;
  }

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= Promise.all(bmcs.map((bmc) => bmc.close())).then(() => {});
    return closed;
  };
  return {
    bmcs,
    stats: () => fleetStats(bmcs),
    close,
    [Symbol.asyncDispose]: close,
  };
}

function fleetStats(bmcs: readonly BmcSimulator[]): BmcFleetStats {
  const total: BmcFleetStats = {
    bmcs: bmcs.length,
    requests: 0,
    maxInFlightPerBmc: 0,
    maxSessionsPerBmc: 0,
    sessionsOpen: 0,
    sessionsCreated: 0,
    byStatus: {},
  };
  for (const bmc of bmcs) {
    const stats = bmc.stats();
    total.requests += stats.requests;
    total.maxInFlightPerBmc = Math.max(total.maxInFlightPerBmc, stats.maxInFlight);
    total.maxSessionsPerBmc = Math.max(total.maxSessionsPerBmc, stats.maxSessionsOpen);
    total.sessionsOpen += stats.sessionsOpen;
    total.sessionsCreated += stats.sessionsCreated;
    for (const [status, n] of Object.entries(stats.byStatus)) {
      total.byStatus[status] = (total.byStatus[status] ?? 0) + n;
    }
  }
  return total;
}
