/**
 * Event Values in one process: how long one `MemoryValue.set` takes to reach
 * every one of many watchers (the dashboard's SSE clients and the loops all
 * watch values like this).
 *
 * @module
 */
import { MemoryValue } from "../event/mod.ts";
import { median, percentile } from "./percentile.ts";

/** Delivery times of one set to all watchers, over several rounds. */
export interface FanOutResult {
  watchers: number;
  rounds: number;
  /** From `set` until the last watcher's `get` resolved. */
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * `watchers` watchers each wait in `get`; one `set`; the time until every
 * `get` has resolved with the new value. Repeated `rounds` times.
 * @throws {Error} a watcher got something other than the value just set.
 */
export async function measureMemoryFanOut(watchers: number, rounds: number): Promise<FanOutResult> {
  const value = new MemoryValue<number>(0);
  const all = Array.from({ length: watchers }, () => value.watch());
  await Promise.all(all.map((w) => w.get())); // each has seen the initial value
  const times: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    const pending = all.map((w) => w.get());
    const started = performance.now();
    value.set(round);
    const got = await Promise.all(pending);
    times.push(performance.now() - started);
    const wrong = got.find((v) => v !== round);
    if (wrong !== undefined) throw new Error(`A watcher got ${wrong} after set(${round})`);
  }
  for (const w of all) w.close();
  return {
    watchers,
    rounds,
    medianMs: median(times),
    p99Ms: percentile(times, 99),
    maxMs: Math.max(...times),
  };
}
