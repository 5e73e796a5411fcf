import assert from "node:assert/strict";
import { type Backoff, nextBackoffSeconds, normalizeBackoff, validateBackoff } from "./backoff.ts";
import { InvalidArgumentError } from "./errors.ts";

/** Successive intervals for `n` failures in a row, starting from `previous`. */
function sequence(b: Backoff, n: number, previous: number | null = null): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    previous = nextBackoffSeconds(b, previous);
    out.push(previous);
  }
  return out;
}

Deno.test("nextBackoffSeconds() follows Monogon's table", async (t) => {
  const cases: { name: string; b: Backoff; previous?: number; want: number[] }[] = [
    {
      name: "zero policy is a constant 1 s",
      b: { initialSeconds: 0, maximumSeconds: 0, exponent: 0 },
      want: [1, 1, 1],
    },
    { name: "simple (exponent 0)", b: { initialSeconds: 60, maximumSeconds: 0, exponent: 0 }, want: [60, 60, 60] },
    { name: "simple (exponent 1)", b: { initialSeconds: 60, maximumSeconds: 600, exponent: 1 }, want: [60, 60, 60] },
    {
      name: "exponential with maximum",
      b: { initialSeconds: 60, maximumSeconds: 120, exponent: 1.1 },
      want: [60, 66, 73, 81, 90, 99, 109, 120, 120],
    },
    {
      name: "simple overrides a previous interval",
      b: { initialSeconds: 60, maximumSeconds: 0, exponent: 0 },
      previous: 2,
      want: [60, 60, 60],
    },
    {
      name: "exponential continues from a previous interval",
      b: { initialSeconds: 60, maximumSeconds: 120, exponent: 2 },
      previous: 2,
      want: [4, 8, 16, 32, 64, 120, 120],
    },
    { name: "exponent below 1 is 1", b: { initialSeconds: 0, maximumSeconds: 0, exponent: 0.2 }, want: [1, 1, 1] },
    {
      name: "sub-second initial and maximum become 1 s",
      b: { initialSeconds: 0.001, maximumSeconds: 0.001, exponent: 2 },
      want: [1, 1, 1],
    },
    {
      name: "issue #3: 5, 10, 20, 20",
      b: { initialSeconds: 5, maximumSeconds: 20, exponent: 2 },
      want: [5, 10, 20, 20],
    },
    {
      name: "small exponent still grows by rounding up",
      b: { initialSeconds: 1, maximumSeconds: 100, exponent: 1.1 },
      want: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => assert.deepEqual(sequence(c.b, c.want.length, c.previous ?? null), c.want));
  }
});

Deno.test("normalizeBackoff() caps maximum below initial to initial", () => {
  assert.deepEqual(normalizeBackoff({ initialSeconds: 10, maximumSeconds: 5, exponent: 3 }), {
    initialSeconds: 10,
    maximumSeconds: 10,
    exponent: 3,
  });
});

Deno.test("validateBackoff() names the bad field", () => {
  for (
    const [field, value] of [
      ["initialSeconds", -1],
      ["maximumSeconds", Infinity],
      ["exponent", Number.NaN],
      ["initialSeconds", "5"],
    ] as const
  ) {
    const b = { initialSeconds: 1, maximumSeconds: 10, exponent: 2, [field]: value };
    assert.throws(() => validateBackoff("backoff", b), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.field, `backoff.${field}`);
      return true;
    });
  }
  assert.throws(() => validateBackoff("backoff", null), InvalidArgumentError);
});
