/**
 * The provisioner against the simulator and a real BMDB: devices from free
 * reservations up to the maximum, in chunks, each recorded once; a managed
 * device the BMDB lacks is adopted; a device removed behind Drover's back
 * halts it (with the reason) until the sides agree; provider 5xx and lost
 * replies make no device twice; devices whose recording failed are adopted
 * by the next pass, never created again.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Provider } from "../../bmdb/mod.ts";
import { EquinixClient } from "../../equinix/mod.ts";
import { EquinixProvider, Provisioner, TokenBucket } from "../../loops/mod.ts";
import { bmdbTest, countRows, type TestBmdb } from "../harness/bmdb.ts";
import { type CheckedSimulator, simulatorClient, startCheckedSimulator } from "../harness/simulator.ts";
import { quietLogger } from "../harness/quiet_logger.ts";

const TAG = "drover-managed";

interface Fixture extends AsyncDisposable {
  sim: CheckedSimulator;
  client: EquinixClient;
  registry: Registry;
  provisioner: Provisioner;
}

async function fixture(
  t: TestBmdb,
  options: { reservations: number; maxDevices: number; chunkSize: number; requestTimeoutMs?: number },
): Promise<Fixture> {
  const sim = await startCheckedSimulator({ reservations: options.reservations, metros: ["sv", "da"] });
  const client = simulatorClient(sim, { requestTimeoutMs: options.requestTimeoutMs ?? 5000 });
  const registry = new Registry();
  const provisioner = new Provisioner(t.bmdb, new EquinixProvider(client), {
    maxDevices: options.maxDevices,
    chunkSize: options.chunkSize,
    creationLimiter: new TokenBucket({ intervalMs: 1, burst: 100 }),
    registry,
    logger: quietLogger,
  });
  return {
    sim,
    client,
    registry,
    provisioner,
    async [Symbol.asyncDispose]() {
      client.close();
      await sim.close();
    },
  };
}

async function bmdbProviderIds(t: TestBmdb): Promise<string[]> {
  const rows = await t.bmdb.read((q) => q.getProvidedMachines({ provider: Provider.Equinix }));
  return rows.map((m) => m.providerId).sort();
}

function managedDeviceIds(sim: CheckedSimulator): string[] {
  return sim.fleet.devices().filter((d) => d.tags?.includes(TAG)).map((d) => d.id).sort();
}

bmdbTest("devices are created from free reservations up to the maximum, in chunks, each recorded once", async (t) => {
  await using f = await fixture(t, { reservations: 6, maxDevices: 4, chunkSize: 3 });
  assert.deepEqual(await f.provisioner.pass(), { adopted: 0, created: 3, halted: false });
  assert.deepEqual(await f.provisioner.pass(), { adopted: 0, created: 1, halted: false });
  assert.deepEqual(await f.provisioner.pass(), { adopted: 0, created: 0, halted: false }, "at the maximum");
  const devices = managedDeviceIds(f.sim);
  assert.equal(devices.length, 4);
  assert.deepEqual(await bmdbProviderIds(t), devices);
  const rows = await t.bmdb.read((q) => q.getProvidedMachines({ provider: Provider.Equinix }));
  for (const m of rows) {
    const device = f.sim.fleet.device(m.providerId)!;
    assert.equal(m.providerReservationId, device.hardware_reservation?.href?.split("/").pop());
    assert.equal(m.providerLocation, device.metro?.code);
    assert.equal(m.providerStatus, "Provisioning");
  }
  const status = await f.provisioner.status.watch().get();
  assert.deepEqual([status.halted, status.managedDevices, status.maxDevices], [false, 4, 4]);
});

bmdbTest("a managed device the BMDB does not know is adopted; someone else's device is left alone", async (t) => {
  await using f = await fixture(t, { reservations: 3, maxDevices: 2, chunkSize: 5 });
  const [ours, theirs] = f.sim.fleet.reservations();
  // A device Drover created whose BMDB write never happened (a crash between the two).
  const orphan = await f.client.createDevice({
    hardware_reservation_id: ours.id,
    metro: ours.facility!.metro!.code!,
    plan: ours.plan!.slug!,
    operating_system: "ubuntu_24_04",
    tags: [TAG],
  });
  f.sim.faults.takeReservation(theirs.id);
  assert.deepEqual(await f.provisioner.pass(), { adopted: 1, created: 1, halted: false });
  const devices = managedDeviceIds(f.sim);
  assert.equal(devices.length, 2);
  assert.ok(devices.includes(orphan.id));
  assert.deepEqual(await bmdbProviderIds(t), devices, "someone else's device is not recorded");
  assert.match(await f.registry.metrics(), /drover_provisioner_devices_adopted_total 1/);
});

bmdbTest(
  "a device removed behind Drover's back halts provisioning, with the reason, until the sides agree",
  async (t) => {
    await using f = await fixture(t, { reservations: 5, maxDevices: 4, chunkSize: 2 });
    await f.provisioner.pass();
    const [gone] = managedDeviceIds(f.sim);
    await f.client.deleteDevice(gone);
    await f.sim.fleet.waitForState(gone, "deleted");

    assert.deepEqual(await f.provisioner.pass(), { adopted: 0, created: 0, halted: true });
    assert.deepEqual(await f.provisioner.pass(), { adopted: 0, created: 0, halted: true }, "still halted");
    const status = await f.provisioner.status.watch().get();
    assert.equal(status.halted, true);
    assert.match(status.reason ?? "", new RegExp(`1 machine\\(s\\) have no device.*device ${gone}`));
    assert.match(await f.registry.metrics(), /drover_provisioner_halted 1/);
    assert.equal(managedDeviceIds(f.sim).length, 1, "nothing created while halted");

    // An operator marks the machine failed: the sides agree again and provisioning resumes.
    await t.sql("UPDATE machine_provided SET provider_status = 'ProvisioningFailedPermanent' WHERE provider_id = $1", [
      gone,
    ]);
    assert.deepEqual(await f.provisioner.pass(), { adopted: 0, created: 2, halted: false });
    assert.match(await f.registry.metrics(), /drover_provisioner_halted 0/);
  },
);

bmdbTest("with provider 5xx and lost replies, every device is created once and recorded once", async (t) => {
  await using f = await fixture(t, { reservations: 8, maxDevices: 6, chunkSize: 6, requestTimeoutMs: 300 });
  // One of each fault for certain (a random rate alone sometimes drew no 5xx), more at random.
  f.sim.faults.failNext(1, { status: 503, operationId: "createDevice" });
  f.sim.faults.loseNextReply("createDevice");
  f.sim.faults.set({ serverErrorRate: 0.2 });
  const pass = await f.provisioner.pass();
  f.sim.faults.clear();
  const faults = new Set(f.sim.exchanges.map((e) => e.fault));
  assert.ok(faults.has("lost-reply") && faults.has("server-error"), `faults seen: ${[...faults].join(", ")}`);
  assert.equal(pass.created, 6);
  const devices = managedDeviceIds(f.sim);
  assert.equal(devices.length, 6, "no reservation got two devices");
  assert.equal(f.sim.fleet.devices().length, 6);
  assert.deepEqual(await bmdbProviderIds(t), devices);
});

/** Makes every insert into machine_provided fail until the returned function is called. */
async function failRecording(t: TestBmdb): Promise<() => Promise<void>> {
  await t.sql(`CREATE FUNCTION test_refuse_record() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'recording refused by the test'; END $$`);
  await t.sql(`CREATE TRIGGER test_refuse_record BEFORE INSERT ON machine_provided
    FOR EACH STATEMENT EXECUTE FUNCTION test_refuse_record()`);
  return async () => {
    await t.sql("DROP TRIGGER test_refuse_record ON machine_provided");
  };
}

/** Counts the INSERT statements on machine_provided (a statement-level trigger). */
async function countRecordStatements(t: TestBmdb): Promise<() => Promise<number>> {
  await t.sql("CREATE TABLE test_record_statements (at TIMESTAMPTZ NOT NULL DEFAULT now())");
  await t.sql(`CREATE FUNCTION test_count_record() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO test_record_statements DEFAULT VALUES; RETURN NULL; END $$`);
  await t.sql(`CREATE TRIGGER test_count_record AFTER INSERT ON machine_provided
    FOR EACH STATEMENT EXECUTE FUNCTION test_count_record()`);
  return () => countRows(t, "SELECT count(*) FROM test_record_statements");
}

bmdbTest(
  "devices whose recording failed are adopted by the next pass, all in one statement; none is created twice",
  async (t) => {
    await using f = await fixture(t, { reservations: 6, maxDevices: 4, chunkSize: 4 });
    const allowRecording = await failRecording(t);
    await assert.rejects(f.provisioner.pass(), /recording refused by the test/);
    const unrecorded = managedDeviceIds(f.sim);
    assert.ok(unrecorded.length >= 1, "the chunk's first device was created before its record failed");
    assert.deepEqual(await bmdbProviderIds(t), []);
    assert.equal(await countRows(t, "SELECT count(*) FROM machines"), 0, "no machine without its tag");

    await allowRecording();
    const statements = await countRecordStatements(t);
    // A replica that creates nothing (maxDevices 0) still adopts.
    const adopter = new Provisioner(t.bmdb, new EquinixProvider(f.client), {
      maxDevices: 0,
      creationLimiter: new TokenBucket({ intervalMs: 1, burst: 1 }),
      registry: new Registry(),
      logger: quietLogger,
    });
    assert.deepEqual(await adopter.pass(), { adopted: unrecorded.length, created: 0, halted: false });
    assert.equal(await statements(), 1, "the adopted devices were recorded in one statement");
    assert.deepEqual(await bmdbProviderIds(t), unrecorded);

    assert.deepEqual(await f.provisioner.pass(), { adopted: 0, created: 4 - unrecorded.length, halted: false });
    const devices = managedDeviceIds(f.sim);
    assert.equal(devices.length, 4);
    assert.equal(f.sim.fleet.devices().length, 4, "no reservation got two devices");
    assert.deepEqual(await bmdbProviderIds(t), devices);
  },
);
