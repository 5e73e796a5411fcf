/**
 * Listing, searching and filtering machines, and one machine in full, on a
 * real BMDB: keyset pages cover the fleet once in id order; search finds a
 * machine by id prefix, IP or provider id prefix, metro and reservation;
 * filters by tag, provider status, work and backoff agree with the counts;
 * bad input names the field.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Bmdb,
  InvalidArgumentError,
  type MachineSummary,
  Process,
  Provider,
  type Queries,
} from "../../bmdb/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";

const FLEET = 30;

/** 30 machines: #i has IP 10.1.0.i, provider id dev-i, metro sv (even) / da (odd), reservation res-i. */
async function seed(bmdb: Bmdb): Promise<string[]> {
  const session = await bmdb.startSession();
  try {
    return await session.transact(async (q) => {
      const ids: string[] = [];
      for (let i = 0; i < FLEET; i++) {
        const { machineId } = await q.newMachine();
        await q.machineAddProvided({
          machineId,
          provider: Provider.Equinix,
          providerId: `dev-${i}`,
          providerReservationId: `res-${i}`,
          providerIpAddress: `10.1.0.${i}`,
          providerLocation: i % 2 === 0 ? "sv" : "da",
          providerStatus: i < 25 ? "Running" : "Provisioning",
        });
        ids.push(machineId);
      }
      return ids;
    });
  } finally {
    await session.close();
  }
}

type ListParams = Parameters<Queries["listMachines"]>[0];

async function list(bmdb: Bmdb, params: object): Promise<MachineSummary[]> {
  return await bmdb.read((q) => q.listMachines(params as ListParams));
}

const ids = (rows: MachineSummary[]) => rows.map((m) => m.machineId);

bmdbTest("keyset pages walk every machine once, in id order", async (t) => {
  const all = (await seed(t.bmdb)).sort();
  const seen: string[] = [];
  let after: string | undefined;
  for (let page = 0; page < 10; page++) {
    const rows = await list(t.bmdb, { after, limit: 7 });
    if (rows.length === 0) break;
    seen.push(...ids(rows));
    after = rows.at(-1)!.machineId;
  }
  assert.deepEqual(seen, all);
});

bmdbTest("search finds a machine by id prefix, IP, provider id, metro and reservation", async (t) => {
  const machines = await seed(t.bmdb);
  const m7 = machines[7];
  const byQ = async (q: string) => ids(await list(t.bmdb, { q, limit: 500 })).sort();
  assert.deepEqual(await byQ("10.1.0.7"), [m7], "IP");
  assert.deepEqual(await byQ("dev-7"), [m7], "provider id");
  assert.deepEqual(await byQ("res-7"), [m7], "reservation");
  assert.deepEqual(await byQ(m7), [m7], "full machine id");
  assert.ok((await byQ(m7.slice(0, 8))).includes(m7), "machine id prefix");
  assert.deepEqual(await byQ(m7.slice(0, 13).toUpperCase()), await byQ(m7.slice(0, 13)), "case and hyphens");
  assert.equal((await byQ("10.1.0.2")).length, 11, "IP prefix: .2 and .20 to .29");
  assert.equal((await byQ("SV")).length, FLEET / 2, "metro, any case");
  assert.deepEqual(await byQ("nothing-like-it"), []);
});

bmdbTest("filters by tag, provider status, work and backoff agree with their counts", async (t) => {
  const machines = await seed(t.bmdb);
  const session = await t.bmdb.startSession();
  try {
    // Machine 0: live work; machine 1: in backoff; machine 2: agent started with a hardware report.
    const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machines[0]]));
    const failing = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machines[1]]));
    await failing.fail({ initialSeconds: 300, maximumSeconds: 300, exponent: 2 }, "dial failed");
    await t.sql(
      `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key) VALUES ($1, now(), '\\x0102');
       `,
      [machines[2]],
    );
    await t.sql("INSERT INTO machine_hardware_report (machine_id, hardware_report_raw) VALUES ($1, $2)", [
      machines[2],
      new TextEncoder().encode(JSON.stringify({ cpu: { cores: 8 } })),
    ]);

    const cases: [string, object, string[] | number][] = [
      ["has work", { hasWork: true }, [machines[0]]],
      ["has work of AgentStart", { hasWork: true, process: Process.ShepherdAgentStart }, [machines[0]]],
      ["has work of Recovery", { hasWork: true, process: Process.ShepherdRecovery }, []],
      ["in backoff", { inBackoff: true }, [machines[1]]],
      ["process alone: work or backoff", { process: Process.ShepherdAgentStart }, [machines[0], machines[1]]],
      ["tag agentStarted", { tag: "agentStarted" }, [machines[2]]],
      ["not in backoff", { inBackoff: false }, FLEET - 1],
      ["Provisioning", { providerStatus: "Provisioning" }, 5],
      ["Running in sv", { providerStatus: "Running", q: "sv" }, 13],
    ];
    for (const [what, filter, expected] of cases) {
      const rows = await list(t.bmdb, { ...filter, limit: 500 });
      const count = await t.bmdb.read((q) => q.countMachinesMatching(filter as ListParams));
      if (typeof expected === "number") assert.equal(rows.length, expected, what);
      else assert.deepEqual(ids(rows).sort(), [...expected].sort(), what);
      assert.equal(count, rows.length, `${what}: count`);
    }

    const [withWork] = await list(t.bmdb, { hasWork: true });
    assert.deepEqual(withWork.work.map((w) => [w.process, w.sessionId, w.component]), [[
      Process.ShepherdAgentStart,
      session.sessionId,
      "test",
    ]]);
    const [inBackoff] = await list(t.bmdb, { inBackoff: true });
    assert.deepEqual(inBackoff.backoffs.map((b) => [b.process, b.cause, b.lastIntervalSeconds]), [[
      Process.ShepherdAgentStart,
      "dial failed",
      300,
    ]]);

    const detail = await t.bmdb.read((q) => q.getMachine({ machineId: machines[2] }));
    assert.equal(detail?.providerIpAddress, "10.1.0.2");
    assert.equal(detail?.agentPublicKey, "AQI=");
    assert.deepEqual(detail?.hardwareReport, { cpu: { cores: 8 } });
    assert.equal(await t.bmdb.read((q) => q.getMachine({ machineId: crypto.randomUUID() })), null);
    await work.cancel();
  } finally {
    await session.close();
  }
});

bmdbTest("bad listing input is refused, naming the field", async (t) => {
  const bad: [object, string][] = [
    [{ q: "x' OR 1=1 --" }, "q"],
    [{ q: "10.0.0.%" }, "q"],
    [{ q: "a".repeat(129) }, "q"],
    [{ tag: "owner" }, "tag"],
    [{ process: "Reboot" }, "process"],
    [{ providerStatus: "up" }, "providerStatus"],
    [{ inBackoff: "yes" }, "inBackoff"],
    [{ after: "m-1" }, "after"],
    [{ limit: 0 }, "limit"],
    [{ limit: 1001 }, "limit"],
  ];
  for (const [params, field] of bad) {
    await assert.rejects(
      t.bmdb.read((q) => q.listMachines(params as ListParams)),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === field,
      JSON.stringify(params),
    );
  }
});
