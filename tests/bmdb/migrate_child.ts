/**
 * One of the processes `migrate_test.ts` starts to migrate a database at the
 * same moment: prints `{"ready":true}`, waits for a line on stdin, then opens
 * the BMDB at the URL given as its argument (which migrates it) and prints one
 * JSON line: `{ migration, startedAt, finishedAt }`, or `{ error }` and exit
 * code 1.
 *
 * Run: deno run --allow-net --allow-env --allow-read tests/bmdb/migrate_child.ts postgres://…
 *
 * @module
 */
import { openBmdb } from "../../bmdb/mod.ts";

const [databaseUrl] = Deno.args;
console.log(JSON.stringify({ ready: true }));

const reader = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).getReader();
for (let input = ""; !input.includes("\n");) {
  const { value, done } = await reader.read();
  if (done) break;
  input += value;
}
await reader.cancel();

const startedAt = Date.now();
try {
  const bmdb = await openBmdb({ component: "migrate-child", databaseUrl, connectTimeoutSeconds: 30 });
  const finishedAt = Date.now();
  console.log(JSON.stringify({ migration: bmdb.migration, startedAt, finishedAt }));
  await bmdb.close();
} catch (error) {
  const e = error as Error;
  console.log(JSON.stringify({ error: { name: e?.name, message: e?.message ?? String(error) } }));
  Deno.exitCode = 1;
}
