import assert from "node:assert/strict";
import { writtenTables } from "./written_tables.ts";

Deno.test("writtenTables() names the feed's tables a statement writes, as the triggers would", async (t) => {
  const cases: { name: string; sql: string; want: string[] }[] = [
    {
      name: "a claim: an upsert of a slot in a CTE, reading sessions",
      sql: `WITH live AS (SELECT 1 FROM sessions WHERE session_id = $1::uuid AND session_deadline > now()),
        claimed AS (INSERT INTO work_slot (machine_id, process, session_id, started_at) SELECT 1
          ON CONFLICT (machine_id, process) DO UPDATE SET session_id = excluded.session_id RETURNING machine_id),
        started AS (INSERT INTO work_history (machine_id, process, event) SELECT 1 FROM claimed)
        SELECT 1`,
      want: ["work_slot"],
    },
    {
      name: "a finish: a slot released, a backoff cleared, a tag set",
      sql: `WITH released AS (UPDATE work_slot SET session_id = NULL RETURNING machine_id),
        cleared AS (DELETE FROM work_backoff WHERE machine_id = $1::uuid),
        tag_1 AS (INSERT INTO machine_agent_started (machine_id) SELECT 1)
        SELECT 1`,
      want: ["work_slot", "work_backoff"],
    },
    { name: "an aliased update", sql: `UPDATE work_slot w SET session_id = NULL FROM x`, want: ["work_slot"] },
    { name: "a new session", sql: `INSERT INTO sessions (session_component_name) VALUES ($1)`, want: ["sessions"] },
    {
      name: "a heartbeat is not a change",
      sql: `WITH poke AS (UPDATE sessions SET session_deadline = now() RETURNING session_id) SELECT 1`,
      want: [],
    },
    { name: "a new machine", sql: `INSERT INTO machines (machine_created_at) VALUES (now())`, want: ["machines"] },
    {
      name: "deleting machines reaches the tables its cascades reach",
      sql: `DELETE FROM machines WHERE machine_id = $1`,
      want: ["machines", "work_slot", "work_backoff"],
    },
    { name: "reads", sql: `SELECT * FROM work_slot FOR UPDATE SKIP LOCKED`, want: [] },
    { name: "other tables", sql: `INSERT INTO work_history (machine_id) VALUES ($1)`, want: [] },
    { name: "case and quoting", sql: `delete from "work_backoff" where true`, want: ["work_backoff"] },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.deepEqual([...writtenTables(c.sql)].sort(), [...c.want].sort());
      assert.deepEqual([...writtenTables(c.sql)].sort(), [...c.want].sort(), "the cached answer differs");
    });
  }
});
