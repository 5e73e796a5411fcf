import assert from "node:assert/strict";
import { parseRate, TokenBucket } from "./token_bucket.ts";

Deno.test("the bucket starts full: a burst goes at once, the next waits about one interval", async () => {
  const bucket = new TokenBucket({ intervalMs: 80, burst: 3 });
  for (let i = 0; i < 3; i++) assert.ok(bucket.tryTake(), `token ${i + 1} of the burst`);
  assert.equal(bucket.tryTake(), false);
  const started = performance.now();
  await bucket.take();
  const waited = performance.now() - started;
  assert.ok(waited >= 60 && waited < 400, `waited ${waited.toFixed(0)} ms for one token at 80 ms`);
});

Deno.test("waiters are served in arrival order, one interval apart", async () => {
  const bucket = new TokenBucket({ intervalMs: 30, burst: 1 });
  await bucket.take();
  const order: number[] = [];
  await Promise.all([0, 1, 2, 3].map((i) => bucket.take().then(() => order.push(i))));
  assert.deepEqual(order, [0, 1, 2, 3]);
  assert.equal(bucket.tryTake(), false, "no token may jump the line while none has accrued");
});

Deno.test("an aborted wait rejects with the signal's reason and gives up its place", async () => {
  const bucket = new TokenBucket({ intervalMs: 50, burst: 1 });
  await bucket.take();
  const controller = new AbortController();
  const first = bucket.take(controller.signal);
  const second = bucket.take();
  controller.abort(new Error("shutting down"));
  await assert.rejects(first, /shutting down/);
  const started = performance.now();
  await second;
  assert.ok(performance.now() - started < 200, "the next waiter got the token the aborted one would have had");
  await assert.rejects(bucket.take(AbortSignal.abort(new Error("already"))), /already/);
});

Deno.test("parseRate reads the seed's flag syntax and rejects anything else with the value", () => {
  assert.deepEqual(parseRate("250ms,8"), { intervalMs: 250, burst: 8 });
  assert.deepEqual(parseRate("1s,4"), { intervalMs: 1000, burst: 4 });
  assert.throws(() => parseRate("fast"), /must look like "250ms,8".*"fast"/);
  assert.throws(() => parseRate("0ms,8"), /intervalMs must be a positive number/);
  assert.throws(() => parseRate("250ms,0"), /burst must be an integer >= 1/);
  assert.throws(() => new TokenBucket({ intervalMs: 10, burst: 1.5 }), RangeError);
});
