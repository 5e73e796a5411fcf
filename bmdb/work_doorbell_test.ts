import assert from "node:assert/strict";
import { CLOSE_FLUSH_LIMIT_MS, startWorkDoorbell } from "./work_doorbell.ts";

Deno.test("the doorbell sends a ring still waiting for its interval when it closes, for its tables only", async () => {
  const sent: string[] = [];
  const doorbell = startWorkDoorbell({
    notify: (table) => {
      sent.push(table);
      return Promise.resolve();
    },
    minIntervalMs: 60_000,
    onError: (error) => assert.fail(`unexpected error: ${error}`),
  });
  doorbell.ring(["work_slot", "machines"]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(sent, ["work_slot"]);
  doorbell.ring(["work_slot", "work_backoff"]); // work_slot waits a minute; work_backoff goes at once
  await doorbell.close();
  assert.deepEqual(sent.toSorted(), ["work_backoff", "work_slot", "work_slot"]);
});

Deno.test("closing the doorbell gives up on a NOTIFY that does not return (the database is away)", async () => {
  const doorbell = startWorkDoorbell({
    notify: () => new Promise(() => {}),
    minIntervalMs: 50,
    onError: () => {},
  });
  doorbell.ring(["work_slot"]);
  const started = performance.now();
  await doorbell.close();
  const tookMs = performance.now() - started;
  assert.ok(tookMs >= CLOSE_FLUSH_LIMIT_MS - 5 && tookMs < CLOSE_FLUSH_LIMIT_MS + 500, `close took ${tookMs} ms`);
});
