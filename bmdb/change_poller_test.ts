import assert from "node:assert/strict";
import { HistoryWatermark } from "./change_poller.ts";
import type { ChangeFingerprint } from "./queries_feed.ts";

/** A `work_history` table of ids, some committed: what the poll statement would answer. */
class History {
  committed = new Set<number>();
  answer(bounds: { since: string | null; next: string | null }): ChangeFingerprint {
    const ids = [...this.committed];
    const above = (bound: string | null) => bound === null ? 0 : ids.filter((id) => id > Number(bound)).length;
    return {
      machines: 0,
      sessions: 0,
      newestSession: null,
      historyMax: ids.length ? String(Math.max(...ids)) : null,
      historyAboveSince: above(bounds.since),
      historyAboveNext: above(bounds.next),
    };
  }
}

/** One poll at `now`: whether it reported a change. */
function poll(w: HistoryWatermark, h: History, now: number): boolean {
  const bounds = w.bounds(now);
  return w.update(now, bounds, h.answer(bounds));
}

Deno.test("HistoryWatermark reports new rows once, and nothing when nothing changed", () => {
  const w = new HistoryWatermark(5_000);
  const h = new History();
  h.committed = new Set([1, 2, 3]);
  assert.equal(poll(w, h, 0), false, "the first poll is the baseline");
  assert.equal(poll(w, h, 1_000), false);
  h.committed.add(4);
  assert.equal(poll(w, h, 2_000), true);
  assert.equal(poll(w, h, 3_000), false);
});

Deno.test("HistoryWatermark sees a row committed after higher ids were seen, within the window", () => {
  const w = new HistoryWatermark(5_000);
  const h = new History();
  h.committed = new Set([1]);
  poll(w, h, 0);
  h.committed.add(3); // id 2 is taken but not committed yet
  assert.equal(poll(w, h, 1_000), true);
  for (let t = 2_000; t <= 5_000; t += 1_000) assert.equal(poll(w, h, t), false);
  h.committed.add(2); // commits late, below the highest id seen
  assert.equal(poll(w, h, 6_000), true);
});

Deno.test("HistoryWatermark moves its watermark up as time passes, without reporting a change", () => {
  const w = new HistoryWatermark(2_000);
  const h = new History();
  let id = 0;
  poll(w, h, 0);
  for (let t = 1_000; t <= 20_000; t += 1_000) {
    h.committed.add(++id);
    assert.equal(poll(w, h, t), true, `a row was added before the poll at ${t}`);
    assert.equal(poll(w, h, t + 500), false, `nothing was added before the poll at ${t + 500}`);
  }
  // The watermark trails by about the window: it counts the last few rows, not all 20.
  const bounds = w.bounds(21_000);
  assert.ok(Number(bounds.since) >= 15, `since is ${bounds.since}`);
});

Deno.test("HistoryWatermark starts from an empty history", () => {
  const w = new HistoryWatermark(5_000);
  const h = new History();
  assert.equal(poll(w, h, 0), false);
  h.committed.add(1);
  assert.equal(poll(w, h, 1_000), true);
});
