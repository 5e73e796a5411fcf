/**
 * The benchmark's committed results name no path of the machine they ran on
 * (they are read on other machines, and a home or a checkout path says
 * nothing there): every string that looks like an absolute path fails.
 *
 * @module
 */
import assert from "node:assert/strict";

const RESULTS = new URL("../../bench/results/", import.meta.url);

/** Every string value in `value`, with where it is. */
function* strings(value: unknown, at = "$"): Generator<[string, string]> {
  if (typeof value === "string") yield [at, value];
  else if (Array.isArray(value)) { for (const [i, v] of value.entries()) yield* strings(v, `${at}[${i}]`); }
  else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) yield* strings(v, `${at}.${k}`);
  }
}

Deno.test("bench/results/*.json hold no absolute path of the machine they ran on", async () => {
  const found: string[] = [];
  let files = 0;
  for await (const entry of Deno.readDir(RESULTS)) {
    if (!entry.name.endsWith(".json")) continue;
    files++;
    const json = JSON.parse(await Deno.readTextFile(new URL(entry.name, RESULTS)));
    for (const [at, text] of strings(json)) {
      if (/(^|\s)\/(work|tmp|home|root|srv|var|opt|usr)\//.test(text)) found.push(`${entry.name} ${at}: ${text}`);
    }
  }
  assert.ok(files > 0, "no result files found");
  assert.deepEqual(found, []);
});
