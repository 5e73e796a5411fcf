import assert from "node:assert/strict";
import { parseRetryAfter } from "./retry_after.ts";

Deno.test("parseRetryAfter() reads delay-seconds, HTTP-dates, and rejects the rest", () => {
  const now = Date.parse("Sun, 06 Nov 1994 08:49:37 GMT");
  const cases: [string | null | undefined, number | undefined][] = [
    [null, undefined],
    [undefined, undefined],
    ["0", 0],
    ["3", 3_000],
    [" 120 ", 120_000],
    ["Sun, 06 Nov 1994 08:49:39 GMT", 2_000],
    ["Sun, 06 Nov 1994 08:49:30 GMT", 0], // in the past: no wait
    ["-1", undefined],
    ["1.5", undefined],
    ["soon", undefined],
    ["", undefined],
  ];
  for (const [header, expected] of cases) {
    assert.equal(parseRetryAfter(header, now), expected, `Retry-After: ${JSON.stringify(header)}`);
  }
});
