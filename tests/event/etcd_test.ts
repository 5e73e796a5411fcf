/**
 * EtcdValue against a real etcd: each test starts its own throwaway etcd
 * (tests/harness/etcd.ts), so compaction, SIGKILL and restarts stay local.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Etcd3, IRangeResponse } from "etcd3";
import {
  BacklogDoneError,
  EtcdDecodeError,
  EtcdValue,
  type EtcdWatcher,
  WatcherBusyError,
  WatcherClosedError,
} from "../../event/mod.ts";
import { etcdRequirement, type EtcdServer, startEtcd } from "../harness/etcd.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { startTcpProxy } from "../harness/tcp_proxy.ts";
import { waitFor, within } from "../harness/wait.ts";

const ignore = !serviceAvailable(etcdRequirement);

/** Each test with its own etcd, stopped and removed afterwards (also when the test fails). */
function etcdTest(name: string, fn: (etcd: EtcdServer) => Promise<void>): void {
  Deno.test({
    name,
    ignore,
    async fn() {
      await using etcd = await startEtcd();
      await fn(etcd);
    },
  });
}

const utf8 = new TextDecoder();

/** "key=value", or "key deleted". */
function entry(key: Uint8Array, value: Uint8Array | null): string {
  return value === null ? `${utf8.decode(key)} deleted` : `${utf8.decode(key)}=${utf8.decode(value)}`;
}

function text(_key: Uint8Array, value: Uint8Array | null): string | null {
  return value === null ? null : utf8.decode(value);
}

/** Waits until the watcher has seen etcd's state as of `revision` (etcd emits nothing we could await). */
function caughtUp(watcher: EtcdWatcher<unknown>, revision: string): Promise<true> {
  return waitFor(() => watcher.revision >= BigInt(revision), { what: `watcher at revision ${revision}` });
}

async function getAll<T>(watcher: EtcdWatcher<T>): Promise<T[]> {
  const values: T[] = [];
  while (true) {
    try {
      values.push(await watcher.get({ backlogOnly: true }));
    } catch (error) {
      if (error instanceof BacklogDoneError) return values;
      throw error;
    }
  }
}

etcdTest("a single-key watcher waits for the key, gets the newest value, and skips identical writes", async (etcd) => {
  const client = etcd.client();
  const value = new EtcdValue({ client, key: "config", decoder: text });
  await using watcher = value.watch();

  await assert.rejects(watcher.get({ backlogOnly: true }), BacklogDoneError, "a missing key is no value");
  const first = watcher.get();
  await client.put("config").value("1");
  assert.equal(await first, "1");

  await client.put("config").value("2");
  const three = await client.put("config").value("3").exec();
  await caughtUp(watcher, three.header.revision);
  assert.equal(watcher.pendingCount, 1);
  assert.equal(await watcher.get(), "3", "a slow watcher skips to the newest value");

  const same = await client.put("config").value("3").exec();
  await caughtUp(watcher, same.header.revision);
  assert.equal(watcher.pendingCount, 0, "writing the same bytes again is no change");
  await assert.rejects(watcher.get({ backlogOnly: true }), BacklogDoneError);

  const ready = watcher.get({ predicate: (v) => v === "ready" });
  await client.put("config").value("starting");
  await client.put("config").value("ready");
  assert.equal(await ready, "ready");

  const deleted = watcher.get();
  await client.delete().key("config");
  assert.equal(await deleted, null, "a deletion decodes with value null");
});

etcdTest("a ranged watcher delivers the backlog in key order, then one key per get in arrival order", async (etcd) => {
  const client = etcd.client();
  for (const [key, v] of [["m/b", "1"], ["m/a", "1"], ["m/c", "1"], ["m/a", "2"], ["m0", "x"], ["m", "x"]]) {
    await client.put(key).value(v);
  }
  const value = new EtcdValue({ client, key: "m/", rangeEnd: "m0", decoder: entry });
  await using watcher = value.watch();

  assert.deepEqual(await getAll(watcher), ["m/a=2", "m/b=1", "m/c=1"], "compacted per key, in key order");

  await client.put("m/c").value("2");
  await client.delete().key("m/b");
  await client.put("m/a").value("3");
  await client.put("m/c").value("2"); // the same bytes: no change
  await client.put("m/d").value("1");
  const gone = await client.delete().key("m/d").exec(); // came and went before delivery: nothing to deliver
  await caughtUp(watcher, gone.header.revision);
  assert.deepEqual(await getAll(watcher), ["m/c=2", "m/b deleted", "m/a=3"], "arrival order, deletion as null");

  // A key changed again moves behind the others.
  await client.put("m/a").value("4");
  await client.put("m/b").value("1");
  const a5 = await client.put("m/a").value("5").exec();
  await caughtUp(watcher, a5.header.revision);
  assert.equal(watcher.pendingCount, 2);
  assert.equal(await watcher.get(), "m/b=1");
  assert.equal(await watcher.get(), "m/a=5");

  const live = watcher.get();
  await client.put("m/e").value("1");
  assert.equal(await live, "m/e=1");
});

etcdTest(
  "history compacted while the watcher was disconnected: it re-reads and delivers only what changed",
  async (etcd) => {
    const writer = etcd.client();
    await using proxy = startTcpProxy(Number(new URL(etcd.endpoint).port));
    const value = new EtcdValue({
      client: etcd.client({ hosts: proxy.endpoint }),
      key: "m/",
      rangeEnd: "m0",
      decoder: entry,
    });
    await using watcher = value.watch();
    for (const key of ["m/a", "m/b", "m/c"]) await writer.put(key).value("1");
    assert.deepEqual(await getAll(watcher), ["m/a=1", "m/b=1", "m/c=1"]);

    const next = watcher.get();
    proxy.cut();
    await writer.put("m/a").value("2");
    await writer.delete().key("m/b");
    await writer.put("m/c").value("2");
    await writer.put("m/c").value("1"); // back to what the watcher has
    const { header } = await writer.put("m/d").value("1").exec();
    await writer.put("m/d").value("2");
    await writer.kv.compact({ revision: header.revision, physical: true });
    proxy.restore();

    assert.equal(await within(next, 30_000, "the first change after the reconnect"), "m/a=2");
    assert.deepEqual(await getAll(watcher), ["m/b deleted", "m/d=2"]);
    assert.equal(watcher.readCount, 2, "one read at the start, one after the reconnect");
  },
);

etcdTest("a watch whose start revision was compacted meanwhile starts over from a fresh read", async (etcd) => {
  const writer = etcd.client();
  await writer.put("leader").value("1");
  let reads = 0;
  // Between the watcher's first read and its watch, the key changes and history is compacted away.
  const client = interceptReads(etcd.client(), async () => {
    if (++reads > 1) return;
    await writer.put("leader").value("2");
    const { header } = await writer.put("leader").value("3").exec();
    await writer.kv.compact({ revision: header.revision, physical: true });
  });
  const value = new EtcdValue({ client, key: "leader", decoder: text });
  await using watcher = value.watch();

  assert.equal(await watcher.get(), "1", "the first read");
  assert.equal(await within(watcher.get(), 30_000, "the value after the compaction"), "3");
  assert.equal(watcher.readCount, 2, "etcd canceled the watch; the watcher read again");
});

etcdTest("a pending get resolves with a value written after etcd was killed and restarted", async (etcd) => {
  const watched = etcd.client();
  await watched.put("leader").value("before");
  const value = new EtcdValue({ client: watched, key: "leader", decoder: text });
  await using watcher = value.watch();
  assert.equal(await watcher.get(), "before");

  const next = watcher.get();
  const started = performance.now();
  await etcd.kill();
  await etcd.restart();
  // A fresh client: the watched one's circuit breaker is open for a while after the failures.
  await etcd.client().put("leader").value("after");
  assert.equal(await within(next, 60_000, "the value written after the restart"), "after");
  console.log(`  (recovered ${Math.round(performance.now() - started)} ms after the kill)`);
  assert.ok(watcher.readCount >= 2);
});

etcdTest("a slow watcher behind 10,000 updates to 100 keys holds at most one pending value per key", async (etcd) => {
  const client = etcd.client();
  const value = new EtcdValue({ client, key: "load/", rangeEnd: "load0", decoder: entry });
  await using watcher = value.watch();
  await assert.rejects(watcher.get({ backlogOnly: true }), BacklogDoneError);

  const keys = Array.from({ length: 100 }, (_, i) => `load/${String(i).padStart(3, "0")}`);
  let most = 0;
  let revision = "0";
  for (let round = 1; round <= 100; round++) {
    const puts = await Promise.all(keys.map((key) => client.put(key).value(String(round)).exec()));
    revision = puts.map((p) => p.header.revision).reduce((a, b) => BigInt(a) > BigInt(b) ? a : b);
    most = Math.max(most, watcher.pendingCount);
  }
  await caughtUp(watcher, revision);
  most = Math.max(most, watcher.pendingCount);
  assert.ok(most <= 100, `at most one pending value per key, saw ${most}`);
  assert.equal(watcher.pendingCount, 100);
  assert.deepEqual((await getAll(watcher)).sort(), keys.map((key) => `${key}=100`));
});

etcdTest("a decoder error rejects that get with the key, and the next get goes on", async (etcd) => {
  const client = etcd.client();
  await client.put("j/a").value('{"n":1}');
  await client.put("j/b").value("not json");
  await client.put("j/c").value('{"n":3}');
  const value = new EtcdValue({
    client,
    key: "j/",
    rangeEnd: "j0",
    decoder: (_key, v) => v === null ? null : JSON.parse(utf8.decode(v)) as { n: number },
  });
  await using watcher = value.watch();

  assert.deepEqual(await watcher.get(), { n: 1 });
  const error = await watcher.get().then(() => undefined, (e) => e);
  assert.ok(error instanceof EtcdDecodeError, `expected EtcdDecodeError, got ${error}`);
  assert.equal(error.key, "j/b");
  assert.match(error.message, /"j\/b"/);
  assert.ok(error.cause instanceof SyntaxError);
  assert.deepEqual(await watcher.get(), { n: 3 });
});

etcdTest(
  "one get at a time; an aborted get leaves the watcher usable; close ends for-await and the etcd watch",
  async (etcd) => {
    const client = etcd.client();
    const value = new EtcdValue({ client, key: "k", decoder: text });
    await using watcher = value.watch();

    const first = watcher.get();
    await assert.rejects(watcher.get(), WatcherBusyError);
    await client.put("k").value("1");
    assert.equal(await first, "1");

    const controller = new AbortController();
    const aborted = watcher.get({ signal: controller.signal });
    controller.abort(new Error("operator went home"));
    await assert.rejects(aborted, /operator went home/);
    await client.put("k").value("2");
    assert.equal(await watcher.get(), "2");

    await waitFor(async () => await etcdWatchers(etcd) === 1, { what: "one watch in etcd" });
    const seen: (string | null)[] = [];
    const writes = client.put("k").value("3").exec();
    for await (const v of watcher) {
      seen.push(v);
      if (v === "3") watcher.close();
    }
    await writes;
    assert.deepEqual(seen, ["3"]);
    await assert.rejects(watcher.get(), WatcherClosedError);
    await watcher[Symbol.asyncDispose]();
    await waitFor(async () => await etcdWatchers(etcd) === 0, { what: "the etcd watch canceled" });
  },
);

etcdTest("aborting the value's signal rejects waiting and later gets with its reason", async (etcd) => {
  const stop = new AbortController();
  const value = new EtcdValue({ client: etcd.client(), key: "k", decoder: text, signal: stop.signal });
  await using watcher = value.watch();
  const waiting = watcher.get();
  stop.abort(new Error("shutting down"));
  await assert.rejects(waiting, /shutting down/);
  await assert.rejects(watcher.get(), /shutting down/);
});

Deno.test("a range whose end does not sort after its start is rejected at construction", () => {
  const client = {} as Etcd3;
  for (const rangeEnd of ["a/", "a", ""]) {
    assert.throws(
      () => new EtcdValue({ client, key: "a/", rangeEnd, decoder: text }),
      (error: Error) =>
        error instanceof RangeError && error.message.includes('key is "a/"') &&
        error.message.includes(`rangeEnd is ${JSON.stringify(rangeEnd)}`),
    );
  }
  assert.throws(() => new EtcdValue({ client, key: "", decoder: text }), RangeError);
  new EtcdValue({ client, key: "a/", rangeEnd: "a0", decoder: text });
});

/** etcd's own count of open watches (from its /metrics). */
async function etcdWatchers(etcd: EtcdServer): Promise<number> {
  const metrics = await (await fetch(`${etcd.endpoint}/metrics`)).text();
  const line = metrics.split("\n").find((l) => l.startsWith("etcd_debugging_mvcc_watcher_total "));
  return Number(line?.split(" ")[1] ?? NaN);
}

/**
 * The client, with `after()` run after each of its reads (`get`/`getAll`)
 * and before the reader sees the result: a way to act between an EtcdValue's read
 * and its watch.
 */
function interceptReads(client: Etcd3, after: () => Promise<void>): Etcd3 {
  type Exec = { options(o: unknown): Exec; exec(): Promise<IRangeResponse> };
  const wrap = (builder: Exec): Exec => {
    const wrapped: Exec = {
      options: (o) => {
        builder.options(o);
        return wrapped;
      },
      exec: async () => {
        const response = await builder.exec();
        await after();
        return response;
      },
    };
    return wrapped;
  };
  return new Proxy(client, {
    get(target, property) {
      if (property === "get") return (key: string) => wrap(target.get(key) as unknown as Exec);
      if (property === "getAll") {
        return () => {
          const builder = target.getAll();
          return { inRange: (r: { start: string; end: string }) => wrap(builder.inRange(r) as unknown as Exec) };
        };
      }
      return Reflect.get(target, property, target);
    },
  });
}
