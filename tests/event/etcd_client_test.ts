/**
 * `connectEtcd` and `EtcdValue` on a three-member etcd cluster
 * (tests/harness/etcd_cluster.ts) whose leader is SIGKILLed: concurrent
 * writers lose no call, and a watcher whose stream was on the leader still
 * ends on the final state.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3 } from "etcd3";
import { connectEtcd, EtcdValue, type EtcdWatcher } from "../../event/mod.ts";
import { etcdRequirement } from "../harness/etcd.ts";
import { type EtcdCluster, type EtcdMember, startEtcdCluster } from "../harness/etcd_cluster.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { waitFor } from "../harness/wait.ts";

const WRITERS = 50;
/**
 * The slowest write across the kill, stated: a write caught by the kill
 * hangs until the 2 s attempt deadline, the election takes about 1 s (etcd's
 * default timeout), a circuit opened meanwhile lets a call through after 1 s,
 * and the retries back off up to 1 s; plus 3 s for a loaded machine.
 */
const SLOWEST_WRITE_BOUND_MS = 2_000 + 1_000 + 1_000 + 1_000 + 3_000;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const utf8 = new TextDecoder();

/** Watch streams each running member serves now (its /metrics). */
async function watchStreams(cluster: EtcdCluster): Promise<Map<EtcdMember, number>> {
  const counts = new Map<EtcdMember, number>();
  for (const member of cluster.members.filter((m) => m.running)) {
    const text = await (await fetch(`${member.endpoint}/metrics`)).text();
    const match = /^etcd_debugging_mvcc_watch_stream_total (\d+)/m.exec(text);
    if (!match) throw new Error(`${member.name}'s /metrics has no etcd_debugging_mvcc_watch_stream_total`);
    counts.set(member, Number(match[1]));
  }
  return counts;
}

if (serviceAvailable(etcdRequirement)) {
  Deno.test("connectEtcd: 50 concurrent writers go on through the leader's SIGKILL, no call failing", async () => {
    await using cluster = await startEtcdCluster();
    const client = connectEtcd(cluster.endpoints);
    const leader = await cluster.leader();
    let stopping = false;
    let killedAt = Infinity;
    let slowestMs = 0;
    const failures: string[] = [];
    /** Per writer: writes begun after the kill that succeeded, and when the first of them ended. */
    const after = Array.from({ length: WRITERS }, () => ({ writes: 0, firstAt: Infinity }));
    const written = Array.from({ length: WRITERS }, () => 0);
    const writers = Array.from({ length: WRITERS }, async (_, i) => {
      for (let n = 0; !stopping; n++) {
        const startedAt = performance.now();
        try {
          await client.put(`writers/${i}`).value(String(n)).exec();
          const endedAt = performance.now();
          slowestMs = Math.max(slowestMs, endedAt - startedAt);
          written[i]++;
          if (startedAt > killedAt && after[i].writes++ === 0) after[i].firstAt = endedAt;
        } catch (error) {
          failures.push(`writer ${i}: ${(error as Error).message}`);
        }
        await sleep(20);
      }
    });
    try {
      await waitFor(() => written.every((n) => n > 0), { what: "every writer writing" });
      killedAt = performance.now();
      await leader.kill();
      await waitFor(() => after.every((a) => a.writes >= 3), {
        timeoutMs: 30_000,
        what: `every writer with 3 writes after the kill (failures: ${failures.length})`,
      });
    } finally {
      stopping = true;
      await Promise.all(writers);
      client.close();
    }
    const resumedMs = Math.max(...after.map((a) => a.firstAt)) - killedAt;
    console.log(
      `leader ${leader.name} killed under ${WRITERS} writers: ${failures.length} failed calls, slowest write ` +
        `${seconds(slowestMs)} (bound ${seconds(SLOWEST_WRITE_BOUND_MS)}), all writing again ${seconds(resumedMs)} ` +
        `after the kill`,
    );
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} calls failed`);
    assert.ok(slowestMs <= SLOWEST_WRITE_BOUND_MS, `the slowest write took ${seconds(slowestMs)}`);
    assert.ok(resumedMs <= SLOWEST_WRITE_BOUND_MS, `every writer writing again ${seconds(resumedMs)} after the kill`);
  });

  Deno.test("EtcdValue: a ranged watcher whose stream was on the SIGKILLed leader ends on the final state", async () => {
    await using cluster = await startEtcdCluster();
    const leader = await cluster.leader();
    const setup = cluster.client();
    for (let i = 0; i < 10; i++) await setup.put(`range/${i}`).value("before");

    // etcd3 picks the member of a watch stream at random: watch again until the stream is on the leader.
    let found: { client: Etcd3; watcher: EtcdWatcher<[string, string | null]> } | undefined;
    for (let attempt = 1; !found; attempt++) {
      assert.ok(attempt <= 30, "no watch stream landed on the leader in 30 attempts");
      const client = connectEtcd(cluster.endpoints);
      const value = new EtcdValue({
        client,
        key: "range/",
        rangeEnd: "range0",
        decoder: (key, value): [string, string | null] => [utf8.decode(key), value && utf8.decode(value)],
      });
      const watcher = value.watch();
      for (let i = 0; i < 10; i++) await watcher.get();
      // Only this watcher's stream exists now (earlier ones are closed once their count drops).
      const streams = await waitFor(async () => {
        const counts = await watchStreams(cluster);
        return [...counts.values()].reduce((a, b) => a + b, 0) === 1 && counts;
      }, { what: "exactly one watch stream in the cluster" });
      if (streams.get(leader) === 1) found = { client, watcher };
      else {
        await watcher[Symbol.asyncDispose]();
        client.close();
      }
    }
    const { client, watcher } = found;
    const survivors = connectEtcd(cluster.members.filter((m) => m !== leader).map((m) => m.endpoint));
    try {
      const killedAt = performance.now();
      await leader.kill();
      for (let i = 0; i < 10; i++) await survivors.put(`range/${i}`).value("after");
      await survivors.delete().key("range/9");
      const final = new Map<string, string | null>(
        Array.from({ length: 10 }, (_, i) => [`range/${i}`, i === 9 ? null : "after"]),
      );

      const state = new Map<string, string | null>();
      const deadline = AbortSignal.timeout(20_000);
      while (![...final].every(([key, value]) => state.get(key) === value)) {
        const [key, value] = await watcher.get({ signal: deadline }).catch((error) => {
          throw new Error(`the watcher stopped short of the final state: ${JSON.stringify([...state])}`, {
            cause: error,
          });
        });
        state.set(key, value);
      }
      const deliveredMs = performance.now() - killedAt;
      console.log(
        `a watcher on the killed leader ${leader.name} delivered the final state ${seconds(deliveredMs)} after the ` +
          `kill (${watcher.readCount} reads)`,
      );
      assert.ok(watcher.readCount >= 2, "the lost stream was replaced through a fresh read");
    } finally {
      await watcher[Symbol.asyncDispose]();
      client.close();
      survivors.close();
    }
  });
}
