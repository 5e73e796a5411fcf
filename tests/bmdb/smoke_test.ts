import assert from "node:assert/strict";
import { Process, Provider, ProviderStatus } from "../../bmdb/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";

bmdbTest("a claimed machine is finished once and leaves Started, Finished in history", async ({ bmdb, sql }) => {
  const session = await bmdb.startSession({ intervalSeconds: 5 });
  const machineId = await session.transact(async (q) => {
    const m = await q.newMachine();
    await q.machineAddProvided({
      machineId: m.machineId,
      provider: Provider.Equinix,
      providerId: "p1",
      providerStatus: ProviderStatus.Running,
      providerIpAddress: "192.0.2.1",
    });
    return m.machineId;
  });
  const work = await session.work(
    Process.ShepherdAgentStart,
    (q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1 }),
  );
  assert.equal(work.machineId, machineId);
  assert.equal(work.machine?.providerId, "p1");
  const rows = await sql("SELECT count(*)::int AS n FROM work");
  assert.equal(rows[0].n, 1);
  await work.finish((q) =>
    q.machineSetAgentStarted({ machineId, agentStartedAt: new Date(), agentPublicKey: new Uint8Array([1]) })
  );
  const history = await bmdb.read((q) => q.listHistoryOf({ machineId }));
  assert.deepEqual(history.map((h) => h.event), ["Started", "Finished"]);
  await session.close();
});
