import assert from "node:assert/strict";
import { join, raw, render, sql } from "./sql.ts";

const SESSION = "7e93fcd8-71ab-402c-a54e-8f2539bf0a75";
const MACHINE = "5ffc5e11-6f0d-4a27-8ab9-3a32f9bf04a3";

Deno.test("render() binds a value used again with the same cast once, whatever follows the cast", () => {
  // As a commit and the claim after it name their session and machine: once
  // before a closing parenthesis, once before an uppercase keyword.
  const live = sql`SELECT 1 FROM sessions WHERE session_id = ${SESSION}::uuid`;
  const release = sql`UPDATE work_slot SET ${raw("session_id = NULL")}
    WHERE machine_id = ${MACHINE}::uuid AND process = ${"UnitTest1"}::text AND session_id = ${SESSION}::uuid AND true`;
  const history = sql`SELECT ${MACHINE}::uuid, ${"UnitTest1"}::text, ${SESSION}::uuid`;
  const { text, params } = render(sql`WITH live AS (${live}), released AS (${release}) ${history}`);
  assert.deepEqual(params, [SESSION, MACHINE, "UnitTest1"]);
  assert.equal(
    text,
    `WITH live AS (SELECT 1 FROM sessions WHERE session_id = $1::uuid), released AS (UPDATE work_slot SET session_id = NULL
    WHERE machine_id = $2::uuid AND process = $3::text AND session_id = $1::uuid AND true) SELECT $2::uuid, $3::text, $1::uuid`,
  );
});

Deno.test("render() keeps a value apart under another cast, and reads multi-word and array types", () => {
  const { text, params } = render(
    sql`SELECT ${"1"}::text, ${"1"}::double precision, ${"1"}::double precision AS x, ${["a"]}::text[], ${"1"}`,
  );
  assert.equal(text, "SELECT $1::text, $2::double precision, $2::double precision AS x, $3::text[], $4");
  assert.deepEqual(params, ["1", "1", ["a"], "1"]);
});

Deno.test("render() inlines raw() text and join()ed fragments in order", () => {
  const parts = [1, 2, 3].map((n) => sql`(${n}::int, ${SESSION}::uuid)`);
  const { text, params } = render(sql`VALUES ${join(parts, ", ")} ${raw("LIMIT 2")}`);
  assert.equal(text, "VALUES ($1::int, $2::uuid), ($3::int, $2::uuid), ($4::int, $2::uuid) LIMIT 2");
  assert.deepEqual(params, [1, SESSION, 2, 3]);
});
