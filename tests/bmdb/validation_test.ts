import assert from "node:assert/strict";
import {
  type Backoff,
  DatabaseUnavailableError,
  InvalidArgumentError,
  openBmdb,
  Process,
  Provider,
  type Session,
} from "../../bmdb/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";
import { freePort } from "../harness/postgres.ts";

type Sql = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

const TABLES = [
  "machines",
  "sessions",
  "work",
  "work_slot",
  "work_history",
  "work_backoff",
  "machine_provided",
  "machine_agent_started",
  "machine_agent_heartbeat",
  "machine_hardware_report",
  "machine_os_installation_request",
  "machine_os_installation_report",
];
const PASSWORD = "hunter2-Zq9xW";

/** Row counts of every BMDB table, and work with a cancel request: what bad input must not change. */
async function snapshot(sql: Sql): Promise<Record<string, number>> {
  const counts = TABLES.map((t) => `(SELECT count(*)::int FROM ${t}) AS ${t}`).join(", ");
  const rows = await sql(
    `SELECT ${counts}, (SELECT count(*)::int FROM work_slot WHERE cancel_requested_at IS NOT NULL) AS cancel_requests`,
  );
  return { ...rows[0] } as Record<string, number>;
}

/** An assert.rejects/throws check: InvalidArgumentError (a TypeError) naming `field`. */
function invalid(field: string) {
  return (error: unknown) => {
    assert.ok(error instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${error}`);
    assert.ok(error instanceof TypeError);
    assert.equal(error.field, field);
    assert.match(error.message, new RegExp(`Invalid ${field.replace(/[.[\]()]/g, "\\$&")}: `));
    return true;
  };
}

/** Creates a provided, running machine (eligible for agent start) and returns its id. */
async function machineReady(session: Session): Promise<string> {
  return await session.transact(async (q) => {
    const { machineId } = await q.newMachine();
    await q.machineAddProvided({
      machineId,
      provider: Provider.Equinix,
      providerId: machineId,
      providerStatus: "Running",
      providerIpAddress: "192.0.2.1",
    });
    return machineId;
  });
}

/** The error `openBmdb` rejects with, and how long it took. */
async function openFailure(databaseUrl: string, connectTimeoutSeconds: number) {
  const startedAt = performance.now();
  const error = await openBmdb({ component: "test", databaseUrl, connectTimeoutSeconds }).then(
    async (bmdb) => {
      await bmdb.close();
      assert.fail("openBmdb succeeded");
    },
    (e: unknown) => e,
  );
  return { error, elapsedMs: performance.now() - startedAt };
}

function assertNamesTargetNotPassword(error: unknown, port: number): void {
  assert.ok(error instanceof DatabaseUnavailableError, `expected DatabaseUnavailableError, got ${error}`);
  assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}\\b`));
  for (const text of [error.message, String(error), Deno.inspect(error)]) {
    assert.ok(!text.includes(PASSWORD), `the password leaked: ${text}`);
  }
}

bmdbTest("a machine id that is not a UUID is rejected naming machineId, and nothing is written", async (t) => {
  const session = await t.bmdb.startSession();
  try {
    const machineId = await machineReady(session);
    const before = await snapshot(t.sql);
    for (const bad of ["not-a-uuid", "", `${machineId}x`, 42 as unknown as string]) {
      await assert.rejects(
        t.bmdb.requestWorkCancel({ machineId: bad, process: Process.UnitTest1, actor: "ops" }),
        invalid("machineId"),
      );
      await assert.rejects(t.bmdb.retryMachine({ machineId: bad, actor: "ops" }), invalid("machineId"));
      await assert.rejects(t.bmdb.read((q) => q.listHistoryOf({ machineId: bad })), invalid("machineId"));
      // A bad id after a write in the same transaction: the write is rolled back too.
      await assert.rejects(
        session.transact(async (q) => {
          await q.newMachine();
          await q.machineAddProvided({ machineId: bad, provider: Provider.Equinix, providerId: "p" });
        }),
        invalid("machineId"),
      );
      await assert.rejects(
        session.work(Process.UnitTest1, () => Promise.resolve([bad])),
        invalid("retrieve() result [0]"),
      );
    }
    assert.deepEqual(await snapshot(t.sql), before);
  } finally {
    await session.close();
  }
});

bmdbTest("an unknown process is rejected naming process, and nothing is written", async (t) => {
  const session = await t.bmdb.startSession();
  try {
    const machineId = await machineReady(session);
    const work = await session.work(Process.UnitTest1, () => Promise.resolve([machineId]));
    const before = await snapshot(t.sql);
    for (const bad of ["Bogus", "unittest1", "", undefined] as unknown as Process[]) {
      await assert.rejects(session.work(bad, () => Promise.resolve([machineId])), invalid("process"));
      await assert.rejects(t.bmdb.requestWorkCancel({ machineId, process: bad, actor: "ops" }), invalid("process"));
      await assert.rejects(t.bmdb.read((q) => q.workBackoffOf({ machineId, process: bad })), invalid("process"));
      if (bad !== undefined) {
        await assert.rejects(t.bmdb.retryMachine({ machineId, process: bad, actor: "ops" }), invalid("process"));
      }
    }
    assert.deepEqual(await snapshot(t.sql), before);
    assert.equal(work.signal.aborted, false);
    await work.cancel();
  } finally {
    await session.close();
  }
});

bmdbTest("a negative or non-finite backoff field is rejected naming it, and the work stays held", async (t) => {
  const session = await t.bmdb.startSession();
  try {
    const machineId = await machineReady(session);
    const work = await session.work(Process.UnitTest1, () => Promise.resolve([machineId]));
    const good: Backoff = { initialSeconds: 5, maximumSeconds: 60, exponent: 2 };
    const before = await snapshot(t.sql);
    for (const field of ["initialSeconds", "maximumSeconds", "exponent"] as const) {
      for (const bad of [-1, -0.5, NaN, Infinity, -Infinity, "5" as unknown as number]) {
        await assert.rejects(work.fail({ ...good, [field]: bad }, "broken"), invalid(`backoff.${field}`));
      }
    }
    await assert.rejects(work.fail(good, " "), invalid("cause"));
    assert.deepEqual(await snapshot(t.sql), before);

    // Still held: a valid fail goes through and backs off.
    await work.fail(good, "broken");
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => h.event), ["Started", "Failed"]);
    const backoff = await t.bmdb.read((q) => q.workBackoffOf({ machineId, process: Process.UnitTest1 }));
    assert.equal(backoff[0]?.lastIntervalSeconds, 5);
  } finally {
    await session.close();
  }
});

bmdbTest("an empty or whitespace actor is rejected naming actor, and nothing is written", async (t) => {
  const session = await t.bmdb.startSession();
  try {
    const machineId = await machineReady(session);
    const work = await session.work(Process.UnitTest1, () => Promise.resolve([machineId]));
    await work.fail({ initialSeconds: 60, maximumSeconds: 60, exponent: 1 }, "broken");
    const held = await session.work(Process.UnitTest2, () => Promise.resolve([machineId]));
    const before = await snapshot(t.sql);
    for (const bad of ["", " ", "\t\n ", undefined as unknown as string]) {
      await assert.rejects(
        t.bmdb.requestWorkCancel({ machineId, process: Process.UnitTest2, actor: bad }),
        invalid("actor"),
      );
      await assert.rejects(t.bmdb.retryMachine({ machineId, actor: bad }), invalid("actor"));
      await assert.rejects(
        t.bmdb.retryMachine({ machineId, process: Process.UnitTest1, actor: bad }),
        invalid("actor"),
      );
    }
    // No cancel request, no Retried row, and the backoff is still there.
    assert.deepEqual(await snapshot(t.sql), before);
    assert.equal(held.signal.aborted, false);
    const backoff = await t.bmdb.read((q) => q.workBackoffOf({ machineId, process: Process.UnitTest1 }));
    assert.equal(backoff.length, 1);
    await held.cancel();
  } finally {
    await session.close();
  }
});

bmdbTest(
  "a bad device list of the provider's batch writes is rejected naming the entry, and nothing is written",
  async (t) => {
    const session = await t.bmdb.startSession();
    try {
      await machineReady(session);
      const before = await snapshot(t.sql);
      const provider = Provider.Equinix;
      const device = { providerId: "eq-1", providerStatus: "Running" as const };
      const cases: [string, () => Promise<unknown>][] = [
        ["devices", () => session.transact((q) => q.newProvidedMachines({ provider, devices: "eq-1" as never }))],
        [
          "devices",
          () => session.transact((q) => q.newProvidedMachines({ provider, devices: Array(10_001).fill(device) })),
        ],
        [
          "devices[1].providerId",
          () => session.transact((q) => q.newProvidedMachines({ provider, devices: [device, { providerId: "" }] })),
        ],
        [
          "devices[0].providerStatus",
          () =>
            session.transact((q) =>
              q.machinesUpdateProviderStatus({
                provider,
                devices: [{ providerId: "eq-1", providerStatus: "Up" as never }],
              })
            ),
        ],
        [
          "providerIds[2]",
          () =>
            session.transact((q) =>
              q.machinesMarkMissing({ provider, providerIds: ["a", "b", 7 as never], recordedBefore: new Date() })
            ),
        ],
      ];
      for (const [field, call] of cases) await assert.rejects(call(), invalid(field));
      assert.deepEqual(await snapshot(t.sql), before);
    } finally {
      await session.close();
    }
  },
);

bmdbTest("a limit outside 1..1000 is rejected naming limit, and no machine is claimed", async (t) => {
  const session = await t.bmdb.startSession();
  try {
    await machineReady(session);
    const before = await snapshot(t.sql);
    for (const limit of [0, -1, 1001, 1.5, NaN, Infinity, "1" as unknown as number]) {
      await assert.rejects(
        session.work(
          Process.ShepherdAgentStart,
          (q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit }),
        ),
        invalid("limit"),
      );
      await assert.rejects(
        t.bmdb.read((q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit })),
        invalid("limit"),
      );
    }
    assert.deepEqual(await snapshot(t.sql), before);
    // The machine was eligible all along: a valid limit claims it.
    const work = await session.work(
      Process.ShepherdAgentStart,
      (q) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1000 }),
    );
    await work.cancel();
  } finally {
    await session.close();
  }
});

bmdbTest("intervalSeconds that is not an integer in 1..3600 is rejected, and no session is written", async (t) => {
  const before = await snapshot(t.sql);
  for (const intervalSeconds of [0, -5, 3601, 1.5, NaN, Infinity, "5" as unknown as number]) {
    await assert.rejects(t.bmdb.startSession({ intervalSeconds }), invalid("intervalSeconds"));
  }
  assert.deepEqual(await snapshot(t.sql), before);
  const session = await t.bmdb.startSession({ intervalSeconds: 3600 });
  await session.close();
});

Deno.test("openBmdb with bad options rejects naming the option, before connecting", async () => {
  const url = `postgres://drover:${PASSWORD}@127.0.0.1:${freePort()}/drover`;
  const cases: [string, Record<string, unknown>][] = [
    ["component", { component: "" }],
    ["component", { component: " \t" }],
    ["connectTimeoutSeconds", { connectTimeoutSeconds: 0 }],
    ["connectTimeoutSeconds", { connectTimeoutSeconds: 2.5 }],
    ["connectTimeoutSeconds", { connectTimeoutSeconds: NaN }],
    ["databaseUrl", { databaseUrl: "" }],
    ["databaseUrl", { databaseUrl: `drover:${PASSWORD}@127.0.0.1` }],
    ["databaseUrl", { databaseUrl: `mysql://drover:${PASSWORD}@127.0.0.1:3306/drover` }],
  ];
  for (const [field, options] of cases) {
    const error = await openBmdb({ component: "test", databaseUrl: url, ...options }).then(
      () => assert.fail(`openBmdb accepted ${JSON.stringify(options)}`),
      (e: unknown) => e,
    );
    assert.ok(invalid(field)(error));
    assert.ok(!String(error).includes(PASSWORD), `the password leaked: ${error}`);
  }
});

// With the sanitizers on: a failed open leaves no socket or timer behind.
const sanitized = { sanitizeOps: true, sanitizeResources: true };

Deno.test(
  "openBmdb on a closed port rejects with DatabaseUnavailableError naming host and port, not the password",
  sanitized,
  async () => {
    const port = freePort();
    const { error, elapsedMs } = await openFailure(`postgres://drover:${PASSWORD}@127.0.0.1:${port}/drover`, 3);
    assertNamesTargetNotPassword(error, port);
    assert.ok(elapsedMs < 3_000 + 1_000, `took ${Math.round(elapsedMs)} ms with a 3 s timeout`);
  },
);

Deno.test("openBmdb against a server that never answers gives up within connectTimeoutSeconds", sanitized, async () => {
  // Accepts connections and says nothing, as a hung server or a black-holing proxy would.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) accepted.push(conn);
    } catch {
      // closed below
    }
  })();
  try {
    const { error, elapsedMs } = await openFailure(`postgres://drover:${PASSWORD}@127.0.0.1:${port}/drover`, 2);
    assertNamesTargetNotPassword(error, port);
    assert.ok(accepted.length >= 1, "openBmdb never connected to the silent server");
    assert.ok(elapsedMs >= 1_900, `gave up after ${Math.round(elapsedMs)} ms, before the 2 s timeout`);
    assert.ok(elapsedMs < 2_000 + 1_500, `took ${Math.round(elapsedMs)} ms with a 2 s timeout`);
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) {
      try {
        conn.close();
      } catch {
        // closed by the client already
      }
    }
  }
});
