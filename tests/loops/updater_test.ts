/**
 * The updater against the simulator and a real BMDB: provider status, public
 * IPv4, metro and reservation land in machine_provided, one statement per
 * page, writing only what changed; a machine whose device is gone is marked
 * Missing, unless it was recorded after the sweep's listing began.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { InvalidArgumentError, Provider } from "../../bmdb/mod.ts";
import { type CallOptions, type Device, EquinixClient } from "../../equinix/mod.ts";
import { EquinixProvider, Provisioner, TokenBucket, Updater } from "../../loops/mod.ts";
import { bmdbTest, countRows, type TestBmdb } from "../harness/bmdb.ts";
import { type CheckedSimulator, simulatorClient, startCheckedSimulator } from "../harness/simulator.ts";
import { quietLogger } from "../harness/quiet_logger.ts";

bmdbTest(
  "a sweep copies status, IPv4, metro and reservation page by page, and marks vanished devices Missing",
  async (t) => {
    const sim = await startCheckedSimulator({ reservations: 5, metros: ["sv", "da"] });
    // pageSize 2: five devices take three pages.
    const client = new EquinixClient({
      baseUrl: sim.url,
      token: sim.token,
      projectId: sim.projectId,
      apiRate: 0,
      pageSize: 2,
    });
    try {
      const registry = new Registry();
      const provisioner = new Provisioner(t.bmdb, new EquinixProvider(client), {
        maxDevices: 5,
        chunkSize: 5,
        creationLimiter: new TokenBucket({ intervalMs: 1, burst: 10 }),
        registry,
        logger: quietLogger,
      });
      await provisioner.pass();
      const devices = sim.fleet.devices();
      await Promise.all(devices.map((d) => sim.fleet.waitForState(d.id, "active")));

      const updater = new Updater(t.bmdb, new EquinixProvider(client), { pageSize: 2, registry, logger: quietLogger });
      const before = sim.stats.byOperation.findProjectDevices ?? 0;
      assert.deepEqual(await updater.pass(), { devices: 5, written: 5, missing: 0 });
      assert.equal((sim.stats.byOperation.findProjectDevices ?? 0) - before, 3, "three pages of two");

      const rows = await t.bmdb.read((q) => q.getProvidedMachines({ provider: Provider.Equinix }));
      assert.equal(rows.length, 5);
      for (const m of rows) {
        const device = sim.fleet.device(m.providerId)!;
        const publicV4 = device.ip_addresses?.find((ip) => ip.public && ip.address_family === 4)?.address;
        assert.ok(publicV4);
        assert.deepEqual(
          [m.providerStatus, m.providerIpAddress, m.providerLocation],
          ["Running", publicV4, device.metro?.code],
        );
      }

      const gone = devices[0].id;
      await client.deleteDevice(gone);
      await sim.fleet.waitForState(gone, "deleted");
      assert.deepEqual(await updater.pass(), { devices: 4, written: 0, missing: 1 });
      assert.deepEqual(await updater.pass(), { devices: 4, written: 0, missing: 0 }, "marked once");
      const [row] = await t.sql("SELECT provider_status FROM machine_provided WHERE provider_id = $1", [gone]);
      assert.equal(row.provider_status, "Missing");
      assert.equal(await countRows(t, "SELECT count(*) FROM sessions"), 1, "one session across its passes");
      const stop = new AbortController();
      const running = updater.run(stop.signal);
      stop.abort();
      await running;
      assert.equal(
        await countRows(t, "SELECT count(*) FROM sessions WHERE session_deadline > now()"),
        0,
        "its session is closed when it stops",
      );
    } finally {
      client.close();
      await sim.close();
    }
  },
);

/** A client that runs `afterPage(n)` once its caller has handled page `n` (from 1) of a device listing. */
class ClientWithPageHook extends EquinixClient {
  afterPage: (page: number) => Promise<void> = () => Promise.resolve();

  override async forEachDevicePage(
    onPage: (devices: Device[]) => Promise<void> | void,
    options?: CallOptions,
  ): Promise<void> {
    let page = 0;
    await super.forEachDevicePage(async (devices) => {
      await onPage(devices);
      await this.afterPage(++page);
    }, options);
  }
}

/** Short device lifecycles, so tests wait milliseconds for devices to turn active or go. */
const QUICK = { queuedMs: 10, provisioningMs: 40, deprovisionMs: 10 };

function provisionerOf(t: TestBmdb, client: EquinixClient, maxDevices: number): Provisioner {
  return new Provisioner(t.bmdb, new EquinixProvider(client), {
    maxDevices,
    chunkSize: 5,
    creationLimiter: new TokenBucket({ intervalMs: 1, burst: 10 }),
    registry: new Registry(),
    logger: quietLogger,
  });
}

async function activeFleet(sim: CheckedSimulator): Promise<void> {
  await Promise.all(sim.fleet.devices().map((d) => sim.fleet.waitForState(d.id, "active")));
}

bmdbTest("a machine recorded while a sweep lists devices is not marked Missing by that sweep", async (t) => {
  await using sim = await startCheckedSimulator({ reservations: 6, timing: QUICK });
  using client = new ClientWithPageHook({
    baseUrl: sim.url,
    token: sim.token,
    projectId: sim.projectId,
    apiRate: 0,
    pageSize: 2,
  });
  using provisionerClient = simulatorClient(sim);
  await provisionerOf(t, provisionerClient, 5).pass();
  await activeFleet(sim);

  // Five devices in pages of two: after the last page has been read, a
  // provisioner creates and records a sixth, as another replica would.
  let recordedDuringSweep: string | undefined;
  client.afterPage = async (page) => {
    if (page !== 3) return;
    await provisionerOf(t, provisionerClient, 6).pass();
    recordedDuringSweep = sim.fleet.devices().at(-1)!.id;
  };
  const updater = new Updater(t.bmdb, new EquinixProvider(client), {
    pageSize: 2,
    registry: new Registry(),
    logger: quietLogger,
  });
  assert.deepEqual(await updater.pass(), { devices: 5, written: 5, missing: 0 });
  assert.ok(recordedDuringSweep);
  const statusOf = async (providerId: string) =>
    (await t.sql("SELECT provider_status FROM machine_provided WHERE provider_id = $1", [providerId]))[0]
      .provider_status;
  assert.equal(await statusOf(recordedDuringSweep), "Provisioning", "as the provisioner recorded it");

  client.afterPage = () => Promise.resolve();
  await sim.fleet.waitForState(recordedDuringSweep, "active");
  assert.deepEqual(await updater.pass(), { devices: 6, written: 1, missing: 0 }, "the next sweep sees its device");
  assert.equal(await statusOf(recordedDuringSweep), "Running");
});

/**
 * Counts `event` statements on machine_provided and the rows they wrote,
 * through triggers (a statement-level trigger fires even when no row matched).
 */
async function countWrites(t: TestBmdb, event: "UPDATE" | "INSERT"): Promise<() => Promise<[number, number]>> {
  await t.sql("CREATE TABLE test_provided_writes (level TEXT NOT NULL)");
  await t.sql(`CREATE FUNCTION test_count_provided_write() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO test_provided_writes VALUES (TG_LEVEL); RETURN NULL; END $$`);
  for (const level of ["STATEMENT", "ROW"]) {
    await t.sql(`CREATE TRIGGER test_provided_${level.toLowerCase()} AFTER ${event} ON machine_provided
      FOR EACH ${level} EXECUTE FUNCTION test_count_provided_write()`);
  }
  return async () => {
    const rows = await t.sql("SELECT level, count(*)::int AS n FROM test_provided_writes GROUP BY level");
    const of = (level: string) => Number(rows.find((r) => r.level === level)?.n ?? 0);
    return [of("STATEMENT"), of("ROW")];
  };
}

const xmins = (t: TestBmdb) =>
  t.sql("SELECT provider_id, xmin::text AS xmin FROM machine_provided ORDER BY provider_id");

bmdbTest("one statement per page writes only what changed; an idle sweep writes no row", async (t) => {
  await using sim = await startCheckedSimulator({ reservations: 5, timing: QUICK });
  using client = simulatorClient(sim, { pageSize: 2 });
  await provisionerOf(t, client, 5).pass();
  await activeFleet(sim);
  const writes = await countWrites(t, "UPDATE");
  const updater = new Updater(t.bmdb, new EquinixProvider(client), {
    pageSize: 10,
    registry: new Registry(),
    logger: quietLogger,
  });

  assert.deepEqual(await updater.pass(), { devices: 5, written: 5, missing: 0 });
  assert.deepEqual(await writes(), [3, 5], "three pages: three statements, five rows");

  const before = await xmins(t);
  assert.deepEqual(await updater.pass(), { devices: 5, written: 0, missing: 0 });
  assert.deepEqual(await writes(), [6, 5], "three more statements, no row written");
  assert.deepEqual(await xmins(t), before, "no row version changed");

  const gone = sim.fleet.devices().slice(0, 3).map((d) => d.id);
  for (const id of gone) await client.deleteDevice(id);
  await Promise.all(gone.map((id) => sim.fleet.waitForState(id, "deleted")));
  assert.deepEqual(await updater.pass(), { devices: 2, written: 0, missing: 3 });
  assert.deepEqual(await writes(), [8, 8], "one page of devices, one page of machines: three marked in one statement");
  const missing = await t.sql("SELECT provider_id FROM machine_provided WHERE provider_status = 'Missing'");
  assert.deepEqual(missing.map((r) => r.provider_id).sort(), [...gone].sort());
});

bmdbTest("bad devices are refused with the field named, before anything is written", async (t) => {
  const session = await t.bmdb.startSession();
  await assert.rejects(
    session.transact((q) =>
      q.machinesUpdateProviderStatus({
        provider: Provider.Equinix,
        devices: [{ providerId: "a" }, { providerId: "b", providerStatus: "Sleeping" as never }],
      })
    ),
    (error) => error instanceof InvalidArgumentError && error.field === "devices[1].providerStatus",
  );
  await assert.rejects(
    session.transact((q) => q.newProvidedMachines({ provider: Provider.Equinix, devices: [{ providerId: "" }] })),
    (error) => error instanceof InvalidArgumentError && error.field === "devices[0].providerId",
  );
  await assert.rejects(
    session.transact((q) =>
      q.machinesMarkMissing({ provider: Provider.Equinix, providerIds: "x" as never, recordedBefore: new Date() })
    ),
    (error) => error instanceof InvalidArgumentError && error.field === "providerIds",
  );
  assert.equal(await countRows(t, "SELECT count(*) FROM machines"), 0);
  await session.close();
});
