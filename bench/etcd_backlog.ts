/**
 * EtcdValue on a key range: how long a new watcher takes to deliver a
 * backlog of many keys (a dashboard or loop starting against a populated
 * etcd, e.g. the reservations range).
 *
 * @module
 */
import { BacklogDoneError, EtcdValue } from "../event/mod.ts";
import { startEtcd } from "../tests/harness/etcd.ts";
import { median } from "./percentile.ts";

/** Times of reading the whole backlog, one fresh watcher per run. */
export interface EtcdBacklogResult {
  keys: number;
  runs: number[];
  medianMs: number;
}

const PREFIX = "bench/reservations/";
/** Keys written at once while seeding. */
const SEED_BATCH = 100;

/**
 * Starts a throwaway etcd, writes `keys` keys of about 200 bytes under one
 * prefix, then `runs` times: a new watcher on the range takes every key with
 * `backlogOnly` until `BacklogDoneError`.
 * @throws {Error} a watcher delivered another number of keys than were written.
 */
export async function measureEtcdBacklog(keys: number, runs: number): Promise<EtcdBacklogResult> {
  await using etcd = await startEtcd();
  const client = etcd.client();
  const body = JSON.stringify({ plan: "m3.small.x86", metro: "am", provisionable: true, pad: "x".repeat(120) });
  for (let i = 0; i < keys; i += SEED_BATCH) {
    const puts = [];
    for (let k = i; k < Math.min(keys, i + SEED_BATCH); k++) {
      puts.push(client.put(`${PREFIX}${String(k).padStart(6, "0")}`).value(body));
    }
    await Promise.all(puts);
  }
  const value = new EtcdValue({
    client,
    key: PREFIX,
    rangeEnd: PREFIX.slice(0, -1) + String.fromCharCode(PREFIX.charCodeAt(PREFIX.length - 1) + 1),
    decoder: (_key, v) => v?.length ?? 0,
  });
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    await using watcher = value.watch();
    const started = performance.now();
    let delivered = 0;
    while (true) {
      try {
        await watcher.get({ backlogOnly: true });
        delivered++;
      } catch (error) {
        if (error instanceof BacklogDoneError) break;
        throw error;
      }
    }
    times.push(performance.now() - started);
    if (delivered !== keys) throw new Error(`The watcher delivered ${delivered} keys of the ${keys} written`);
  }
  return { keys, runs: times, medianMs: median(times) };
}
