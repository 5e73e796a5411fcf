/**
 * Why is this machine idle, on a real BMDB: per loop, the conditions that
 * keep it off, with the facts behind them, and always in agreement with what
 * the loops' own workflow queries would claim.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Bmdb, Process, Provider, ProviderStatus, type WhyIdle } from "../../bmdb/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";

const TIMEOUTS = { startTimeoutSeconds: 60, heartbeatTimeoutSeconds: 60 };

async function why(bmdb: Bmdb, machineId: string): Promise<WhyIdle> {
  const answer = await bmdb.read((q) => q.whyIdle({ machineId, ...TIMEOUTS }));
  assert.ok(answer, "the machine is known");
  // The same predicates the loops claim with: eligible exactly when the workflow query would return it.
  const [forStart, forRecovery] = await bmdb.read(async (q) => [
    await q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1000 }),
    await q.getMachineForAgentRecovery({ provider: Provider.Equinix, limit: 1000, ...TIMEOUTS }),
  ]);
  const byLoop = Object.fromEntries(answer.loops.map((l) => [l.loop, l]));
  assert.equal(byLoop.initializer.eligible, forStart.some((m) => m.machineId === machineId), "initializer agrees");
  assert.equal(byLoop.recoverer.eligible, forRecovery.some((m) => m.machineId === machineId), "recoverer agrees");
  return answer;
}

function unmet(answer: WhyIdle, loop: "initializer" | "recoverer"): string[] {
  return answer.loops.find((l) => l.loop === loop)!.unmet.map((u) => u.condition);
}

function detail(answer: WhyIdle, loop: "initializer" | "recoverer", condition: string): string | null | undefined {
  return answer.loops.find((l) => l.loop === loop)!.unmet.find((u) => u.condition === condition)?.detail;
}

bmdbTest("why idle names each unmet condition with its facts, in step with the loops' own queries", async (t) => {
  const session = await t.bmdb.startSession();
  try {
    const [bare, machineId] = await session.transact(async (q) => {
      const bare = (await q.newMachine()).machineId;
      const { machineId } = await q.newMachine();
      await q.machineAddProvided({
        machineId,
        provider: Provider.Equinix,
        providerId: "eq-1",
        providerStatus: ProviderStatus.Provisioning,
      });
      return [bare, machineId];
    });

    assert.equal(await t.bmdb.read((q) => q.whyIdle({ machineId: crypto.randomUUID() })), null, "unknown machine");
    const unprovided = await why(t.bmdb, bare);
    assert.equal(unprovided.provided, false);
    assert.deepEqual(unmet(unprovided, "initializer"), ["provided"]);

    // Still provisioning: only the provider condition keeps the initializer off.
    let answer = await why(t.bmdb, machineId);
    assert.deepEqual(unmet(answer, "initializer"), ["providerRunning"]);
    assert.equal(detail(answer, "initializer", "providerRunning"), "provider status Provisioning, address none");
    assert.deepEqual(unmet(answer, "recoverer"), ["agentQuiet"]);
    assert.equal(detail(answer, "recoverer", "agentQuiet"), "no agent started");

    await t.sql(
      "UPDATE machine_provided SET provider_status = 'Running', provider_ip_address = '192.0.2.7' WHERE machine_id = $1",
      [machineId],
    );
    answer = await why(t.bmdb, machineId);
    assert.deepEqual(unmet(answer, "initializer"), [], "the initializer may take it");

    // Held by live work of another component.
    const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machineId]));
    answer = await why(t.bmdb, machineId);
    assert.deepEqual(unmet(answer, "initializer"), ["noShepherdWork"]);
    assert.match(
      detail(answer, "initializer", "noShepherdWork")!,
      new RegExp(`^ShepherdAgentStart by test \\(session ${session.sessionId}\\) since `),
    );

    // Failed: in backoff, with the cause.
    await work.fail({ initialSeconds: 300, maximumSeconds: 300, exponent: 2 }, "ssh: dial: connect ECONNREFUSED");
    answer = await why(t.bmdb, machineId);
    assert.deepEqual(unmet(answer, "initializer"), ["noBackoff"]);
    assert.match(detail(answer, "initializer", "noBackoff")!, /^until \S+: ssh: dial: connect ECONNREFUSED$/);
    await t.bmdb.retryMachine({ machineId, actor: "operator" });

    // Agent started an hour ago, last heartbeat 30 minutes ago: the recoverer's turn.
    await t.sql(
      `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
       VALUES ($1, now() - interval '1 hour', '\\x01')`,
      [machineId],
    );
    await t.sql(
      "INSERT INTO machine_agent_heartbeat (machine_id, agent_heartbeat_at) VALUES ($1, now() - interval '30 minutes')",
      [machineId],
    );
    answer = await why(t.bmdb, machineId);
    assert.deepEqual(unmet(answer, "initializer"), ["noAgentStarted"]);
    assert.deepEqual(unmet(answer, "recoverer"), []);
    // A fresh heartbeat: nothing to recover.
    await t.sql("UPDATE machine_agent_heartbeat SET agent_heartbeat_at = now() WHERE machine_id = $1", [machineId]);
    answer = await why(t.bmdb, machineId);
    assert.deepEqual(unmet(answer, "recoverer"), ["agentQuiet"]);
    assert.match(detail(answer, "recoverer", "agentQuiet")!, /^agent started at \S+, last heartbeat \S+$/);
  } finally {
    await session.close();
  }
});

bmdbTest("why idle rejects a machine id that is not a UUID, naming the field", async (t) => {
  await assert.rejects(
    t.bmdb.read((q) => q.whyIdle({ machineId: "m-1" })),
    { name: "InvalidArgumentError", message: 'Invalid machineId: must be a UUID: current value is "m-1"' },
  );
});
