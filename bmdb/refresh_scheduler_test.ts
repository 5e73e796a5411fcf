import assert from "node:assert/strict";
import { RefreshScheduler } from "./refresh_scheduler.ts";

/** A scheduler whose refreshes the test finishes by hand, recording when each started. */
function manualScheduler(minIntervalMs: number) {
  const started: { topic: string; at: number; finish(error?: unknown): void }[] = [];
  const errors: { topic: string; failures: number }[] = [];
  let onStart: (() => void) | undefined;
  const scheduler = new RefreshScheduler<string>({
    minIntervalMs,
    refresh: (topic) =>
      new Promise<void>((resolve, reject) => {
        started.push({ topic, at: performance.now(), finish: (error) => error ? reject(error) : resolve() });
        onStart?.();
      }),
    onError: (topic, _error, failures) => errors.push({ topic, failures }),
  });
  /** Resolves when the `n`-th refresh (1-based) has started. */
  const nthStart = (n: number) =>
    new Promise<(typeof started)[number]>((resolve) => {
      const check = () => {
        if (started.length >= n) {
          onStart = undefined;
          resolve(started[n - 1]);
        }
      };
      onStart = check;
      check();
    });
  return { scheduler, started, errors, nthStart };
}

Deno.test("RefreshScheduler runs one refresh for many marks, and one more for marks made during it", async () => {
  const { scheduler, started, nthStart } = manualScheduler(50);
  try {
    for (let i = 0; i < 100; i++) scheduler.mark("work");
    const first = await nthStart(1);
    for (let i = 0; i < 100; i++) scheduler.mark("work"); // while the first runs
    first.finish();
    const second = await nthStart(2);
    assert.ok(second.at - first.at >= 49, `the second started ${second.at - first.at} ms after the first`);
    second.finish();
    await scheduler.close();
    assert.equal(started.length, 2);
  } finally {
    await scheduler.close();
  }
});

Deno.test("RefreshScheduler refreshes topics independently", async () => {
  const { scheduler, started, nthStart } = manualScheduler(1_000);
  try {
    scheduler.mark("sessions");
    (await nthStart(1)).finish();
    scheduler.mark("backoffs"); // not held back by the sessions' interval
    const second = await nthStart(2);
    assert.equal(second.topic, "backoffs");
    second.finish();
    scheduler.mark("sessions"); // held back: 1 s after the first sessions refresh
    await scheduler.close();
    assert.deepEqual(started.map((s) => s.topic), ["sessions", "backoffs"]);
  } finally {
    await scheduler.close();
  }
});

Deno.test("RefreshScheduler retries a failed refresh and reports each failure", async () => {
  const { scheduler, errors, nthStart } = manualScheduler(0);
  try {
    scheduler.mark("machines");
    (await nthStart(1)).finish(new Error("connection lost"));
    (await nthStart(2)).finish(new Error("connection lost"));
    (await nthStart(3)).finish();
    assert.deepEqual(errors, [{ topic: "machines", failures: 1 }, { topic: "machines", failures: 2 }]);
  } finally {
    await scheduler.close();
  }
});

Deno.test("RefreshScheduler.close() waits for a running refresh and starts no more", async () => {
  const { scheduler, started, nthStart } = manualScheduler(0);
  scheduler.mark("work");
  const first = await nthStart(1);
  scheduler.mark("work");
  let closed = false;
  const closing = scheduler.close().then(() => closed = true);
  await Promise.resolve();
  assert.equal(closed, false, "close() returned while a refresh ran");
  first.finish();
  await closing;
  scheduler.mark("work");
  assert.equal(started.length, 1);
});

Deno.test("RefreshScheduler.close({ flush: true }) refreshes a topic still marked once more, at once", async () => {
  const { scheduler, started, nthStart } = manualScheduler(60_000);
  scheduler.mark("work");
  (await nthStart(1)).finish();
  scheduler.mark("work"); // waits for the interval: a minute
  scheduler.mark("sessions");
  (await nthStart(2)).finish(); // sessions: its first, at once
  const closing = scheduler.close({ flush: true });
  const last = await nthStart(3);
  assert.equal(last.topic, "work");
  last.finish();
  await closing;
  scheduler.mark("work");
  assert.deepEqual(started.map((s) => s.topic), ["work", "sessions", "work"]);
});
