import assert from "node:assert/strict";
import { Nudge, runEvery } from "./schedule.ts";

Deno.test("runEvery passes on a schedule, reports a failed pass and goes on, and stops when the signal aborts", async () => {
  const controller = new AbortController();
  const errors: unknown[] = [];
  let passes = 0;
  const done = runEvery(5, controller.signal, () => {
    passes++;
    if (passes === 2) return Promise.reject(new Error("provider down"));
    if (passes === 4) controller.abort();
    return Promise.resolve();
  }, (error) => errors.push(error));
  await done;
  assert.equal(passes, 4, "the pass after a failure still came, and none after the abort");
  assert.deepEqual(errors.map((e) => (e as Error).message), ["provider down"]);
});

Deno.test("runEvery passes at once when nudged, also for a nudge that came while a pass ran", async () => {
  const controller = new AbortController();
  const nudge = new Nudge();
  let passes = 0;
  const second = Promise.withResolvers<void>();
  const done = runEvery(
    3_600_000,
    controller.signal,
    () => {
      passes++;
      // Nudged during the first pass: the hour-long wait must not happen.
      if (passes === 1) nudge.nudge();
      if (passes === 2) second.resolve();
      if (passes === 3) controller.abort();
      return Promise.resolve();
    },
    () => {},
    nudge,
  );
  await second.promise;
  nudge.nudge(); // while waiting
  await done;
  assert.equal(passes, 3);
});
