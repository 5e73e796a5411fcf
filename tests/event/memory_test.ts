/**
 * MemoryValue: the Event Value contract in one process.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BacklogDoneError, MemoryValue, WatcherBusyError, WatcherClosedError } from "../../event/mod.ts";

Deno.test("a watcher blocks until the first set, then gets the newest value only", async () => {
  const value = new MemoryValue<number>();
  const watcher = value.watch();
  const first = watcher.get();
  value.set(1);
  assert.equal(await first, 1);
  value.set(2);
  value.set(3);
  assert.equal(await watcher.get(), 3, "a slow watcher skips to the newest value");
  await assert.rejects(watcher.get({ backlogOnly: true }), BacklogDoneError);
});

Deno.test("a new watcher starts with the current value", async () => {
  const value = new MemoryValue("ready");
  assert.equal(await value.watch().get(), "ready");
});

Deno.test("the predicate skips values until one matches", async () => {
  const value = new MemoryValue<number>(1);
  const watcher = value.watch();
  const even = watcher.get({ predicate: (n) => n % 2 === 0 });
  value.set(3);
  value.set(4);
  assert.equal(await even, 4);
});

Deno.test("a second get while one is pending rejects; the first still resolves", async () => {
  const value = new MemoryValue<number>();
  const watcher = value.watch();
  const first = watcher.get();
  await assert.rejects(watcher.get(), WatcherBusyError);
  value.set(7);
  assert.equal(await first, 7);
});

Deno.test("an aborted get rejects with the signal's reason and leaves the watcher usable", async () => {
  const value = new MemoryValue<number>();
  const watcher = value.watch();
  const controller = new AbortController();
  const aborted = watcher.get({ signal: controller.signal });
  controller.abort(new Error("operator went home"));
  await assert.rejects(aborted, /operator went home/);
  value.set(1);
  assert.equal(await watcher.get(), 1);
});

Deno.test("close rejects a pending get and ends for-await", async () => {
  const value = new MemoryValue<number>(1);
  const watcher = value.watch();
  const seen: number[] = [];
  for await (const v of watcher) {
    seen.push(v);
    if (v === 1) value.set(2);
    if (v === 2) watcher.close();
  }
  assert.deepEqual(seen, [1, 2]);
  await assert.rejects(watcher.get(), WatcherClosedError);

  const other = value.watch();
  await other.get();
  const pending = other.get();
  other.close();
  await assert.rejects(pending, WatcherClosedError);
});

Deno.test("every one of many watchers sees a set", async () => {
  const value = new MemoryValue<number>();
  const watchers = Array.from({ length: 1000 }, () => value.watch());
  const all = Promise.all(watchers.map((w) => w.get()));
  value.set(42);
  assert.deepEqual(new Set(await all), new Set([42]));
});

Deno.test("an abort that comes with a set the predicate rejects still ends the get", async () => {
  const value = new MemoryValue<number>(1);
  const watcher = value.watch();
  await watcher.get();
  const controller = new AbortController();
  const pending = watcher.get({ signal: controller.signal, predicate: (n) => n > 10 });
  value.set(3);
  controller.abort(new Error("gave up"));
  await assert.rejects(pending, /gave up/);
  value.set(11);
  assert.equal(await watcher.get(), 11, "the watcher is usable again");
});

Deno.test("a close that comes with a set the predicate rejects still ends the get", async () => {
  const value = new MemoryValue<number>(1);
  const watcher = value.watch();
  await watcher.get();
  const pending = watcher.get({ predicate: (n) => n > 10 });
  value.set(3);
  watcher.close();
  await assert.rejects(pending, WatcherClosedError);
});
