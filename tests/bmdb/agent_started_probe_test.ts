/**
 * `machine_agent_started` after migration 0007: one row per machine, the
 * tag's upsert, and the walks' probes on the hash index whatever the table's
 * statistics (on the primary key they met the agent-start finishes' inserts
 * on a few pages, and SERIALIZABLE failed about 2 in 100 units).
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { Provider } from "../../bmdb/mod.ts";
import { INDEX_PROBES_ONLY } from "../../bmdb/planner.ts";
import { getMachineForAgentRecovery, getMachinesForAgentStart, LOWEST_UUID } from "../../bmdb/queries_workflows.ts";
import { render, sql } from "../../bmdb/sql.ts";
import { bmdbTest } from "../harness/bmdb.ts";
import { addMachines, openSession } from "../harness/fleet.ts";

bmdbTest("agent started twice keeps one row with the later key; a second plain insert is refused", async (t) => {
  await using cleanup = new AsyncDisposableStack();
  const session = await openSession(t.bmdb, cleanup);
  const [machineId] = await addMachines(session, 1);
  const started = new Date("2026-12-01T00:00:00Z");
  for (const key of [1, 2]) {
    await session.transact((q) =>
      q.machineSetAgentStarted({ machineId, agentStartedAt: started, agentPublicKey: new Uint8Array([key]) })
    );
  }
  const rows = await t.sql("SELECT encode(agent_public_key, 'hex') AS key FROM machine_agent_started");
  assert.deepEqual(rows.map((r) => r.key), ["02"]);
  await assert.rejects(
    () =>
      t.sql(
        "INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key) VALUES ($1, now(), '\\x03')",
        [machineId],
      ),
    /duplicate key value violates unique constraint/,
  );
});

/** The index scans on `machine_agent_started` in the generic plan of `statement`, as the work pool plans it. */
async function probesOfAgentStarted(url: string, statement: ReturnType<typeof render>): Promise<string[]> {
  const db = postgres(url, { max: 1, onnotice: () => {}, connection: { ...INDEX_PROBES_ONLY } });
  try {
    await db.unsafe(`PREPARE walk AS ${statement.text}`);
    const literals = statement.params.map((p) => `'${String(p).replaceAll("'", "''")}'`);
    const plan = await db.unsafe(`EXPLAIN EXECUTE walk(${literals.join(", ")})`);
    return plan.map((r) => String(r["QUERY PLAN"])).filter((line) => line.includes(" on machine_agent_started "))
      .map((line) => line.trim().replace(/\s+\(cost=.*$/, ""));
  } finally {
    await db.end();
  }
}

bmdbTest(
  "the agent-start and recovery walks probe machine_agent_started through its hash index, whatever its statistics",
  async (t) => {
    const url = t.url!;
    await t.sql(`INSERT INTO machines (machine_id, machine_created_at)
      SELECT gen_random_uuid(), now() FROM generate_series(1, 3000)`);
    await t.sql(`INSERT INTO machine_provided (machine_id, provider, provider_id, provider_status, provider_ip_address)
      SELECT machine_id, 'Equinix', 'eq-' || machine_id, 'Running', '192.0.2.1' FROM machines`);
    const walks = {
      agentStart: render(getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1 }).firstEligible!(
        sql`${LOWEST_UUID}::uuid`,
      )),
      recovery: render(getMachineForAgentRecovery({ provider: Provider.Equinix, limit: 1 }).firstEligible!(
        sql`${LOWEST_UUID}::uuid`,
      )),
    };
    const markStarted = (share: number) =>
      t.sql(`INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
        SELECT machine_id, now(), '\\x00' FROM machines WHERE random() < ${share} ON CONFLICT DO NOTHING`);
    // The states the bench's runs pass through: emptied and vacuumed (an
    // index-only scan of a B-tree looks cheapest), filled, churned.
    const states: [string, () => Promise<unknown>][] = [
      ["empty, vacuumed", () => t.sql("VACUUM ANALYZE machine_agent_started")],
      ["full, vacuumed", async () => {
        await markStarted(1);
        await t.sql("VACUUM ANALYZE machine_agent_started");
      }],
      ["emptied after churn, vacuumed", async () => {
        for (let i = 0; i < 3; i++) {
          await t.sql("DELETE FROM machine_agent_started");
          await markStarted(1);
        }
        await t.sql("DELETE FROM machine_agent_started");
        await t.sql("VACUUM ANALYZE machine_agent_started");
      }],
      ["a tenth, analyzed", async () => {
        await markStarted(0.1);
        await t.sql("ANALYZE machine_agent_started");
      }],
    ];
    for (const [state, reach] of states) {
      await reach();
      for (const [walk, statement] of Object.entries(walks)) {
        const probes = await probesOfAgentStarted(url, statement);
        assert.ok(probes.length > 0, `${walk}, ${state}: no scan of machine_agent_started in the plan`);
        for (const probe of probes) {
          assert.match(probe, /using machine_agent_started_machine_hash /, `${walk}, ${state}: ${probe}`);
        }
      }
    }
  },
  { drivers: ["postgres"] },
);
