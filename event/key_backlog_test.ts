import assert from "node:assert/strict";
import { KeyBacklog } from "./key_backlog.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null) => b === null ? null : new TextDecoder().decode(b);

/** Applies `[key, value]` steps ("take" takes one), then returns what is left, in order. */
function run(steps: ([string, string | null] | "take")[]): { taken: string[]; left: string[] } {
  const backlog = new KeyBacklog();
  const taken: string[] = [];
  for (const step of steps) {
    if (step === "take") {
      const next = backlog.take();
      if (next) taken.push(`${str(next.key)}=${str(next.value)}`);
    } else {
      backlog.apply(bytes(step[0]), step[1] === null ? null : bytes(step[1]));
    }
  }
  const left: string[] = [];
  for (let next = backlog.take(); next; next = backlog.take()) left.push(`${str(next.key)}=${str(next.value)}`);
  return { taken, left };
}

Deno.test("KeyBacklog.apply() keeps one value per key, moves a changed key to the end, drops non-changes", () => {
  const cases: { name: string; steps: ([string, string | null] | "take")[]; left: string[] }[] = [
    { name: "newest value per key", steps: [["a", "1"], ["b", "1"], ["a", "2"]], left: ["b=1", "a=2"] },
    {
      name: "identical value dropped, position kept",
      steps: [["a", "1"], ["b", "1"], ["a", "1"]],
      left: ["a=1", "b=1"],
    },
    { name: "back to the delivered value", steps: [["a", "1"], "take", ["a", "2"], ["a", "1"]], left: [] },
    { name: "delete of a delivered key", steps: [["a", "1"], "take", ["a", null]], left: ["a=null"] },
    { name: "created and deleted before delivery", steps: [["a", "1"], ["a", null]], left: [] },
    { name: "delete of an unknown key", steps: [["a", null]], left: [] },
    {
      name: "delivered deletion, then created again",
      steps: [["a", "1"], "take", ["a", null], "take", ["a", "1"]],
      left: ["a=1"],
    },
  ];
  for (const c of cases) assert.deepEqual(run(c.steps).left, c.left, c.name);
});

Deno.test("KeyBacklog.reconcile() records what differs from the known state, in key order, deletions included", () => {
  const backlog = new KeyBacklog();
  backlog.reconcile([{ key: bytes("a"), value: bytes("1") }, { key: bytes("b"), value: bytes("1") }]);
  assert.equal(backlog.size, 2);
  assert.equal(str(backlog.take()?.key ?? null), "a");
  // a delivered, b pending; the fresh read: a unchanged, b gone, c new.
  backlog.reconcile([{ key: bytes("a"), value: bytes("1") }, { key: bytes("c"), value: bytes("1") }]);
  const left = [];
  for (let next = backlog.take(); next; next = backlog.take()) left.push(`${str(next.key)}=${str(next.value)}`);
  assert.deepEqual(left, ["c=1"], "b was never delivered, so its deletion is nothing to deliver");
  // a and c delivered; the fresh read: a gone, c unchanged, keys beyond ASCII sort by their bytes.
  backlog.reconcile([
    { key: bytes("c"), value: bytes("1") },
    { key: bytes("z"), value: bytes("1") },
    { key: bytes("é"), value: bytes("1") },
  ]);
  const after = [];
  for (let next = backlog.take(); next; next = backlog.take()) after.push(`${str(next.key)}=${str(next.value)}`);
  assert.deepEqual(after, ["a=null", "z=1", "é=1"]);
});
