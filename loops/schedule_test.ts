import assert from "node:assert/strict";
import { runEvery } from "./schedule.ts";

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
