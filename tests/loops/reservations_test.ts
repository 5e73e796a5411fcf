/**
 * The reservations publisher against the simulator: per reservation its
 * plan, metro, provisionable flag, device and read time, into a MemoryValue
 * or an etcd key range (where only real changes are written and a
 * reservation that is gone is deleted).
 *
 * @module
 */
import assert from "node:assert/strict";
import { EquinixClient } from "../../equinix/mod.ts";
import { connectEtcd, EtcdValue, MemoryValue } from "../../event/mod.ts";
import {
  decodeReservationKey,
  etcdReservationStore,
  memoryReservationStore,
  prefixRangeEnd,
  ReservationsPublisher,
  type ReservationView,
} from "../../loops/mod.ts";
import { etcdRequirement, startEtcd } from "../harness/etcd.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { type CheckedSimulator, startCheckedSimulator } from "../harness/simulator.ts";
import { quietLogger } from "../harness/quiet_logger.ts";

async function simulatorWithOneDevice(): Promise<{ sim: CheckedSimulator; client: EquinixClient; deviceId: string }> {
  const sim = await startCheckedSimulator({ reservations: 3, metros: ["sv"], plan: "c3.small.x86" });
  const client = new EquinixClient({ baseUrl: sim.url, token: sim.token, projectId: sim.projectId, apiRate: 0 });
  const [first] = sim.fleet.reservations();
  const device = await client.createDevice({
    hardware_reservation_id: first.id,
    metro: "sv",
    plan: "c3.small.x86",
    operating_system: "ubuntu_24_04",
    hostname: "m1",
  });
  return { sim, client, deviceId: device.id };
}

Deno.test("the publisher puts every reservation with plan, metro, provisionable flag and device into a MemoryValue", async () => {
  const { sim, client, deviceId } = await simulatorWithOneDevice();
  try {
    const value = new MemoryValue<readonly ReservationView[]>();
    const publisher = new ReservationsPublisher(client, memoryReservationStore(value), { logger: quietLogger });
    const before = Date.now();
    await publisher.publishOnce();
    const views = await value.watch().get();
    assert.equal(views.length, 3);
    const taken = views.filter((v) => v.deviceId !== null);
    assert.deepEqual(taken.map((v) => [v.deviceId, v.provisionable]), [[deviceId, false]]);
    assert.ok(views.every((v) => v.plan === "c3.small.x86" && v.metro === "sv"), JSON.stringify(views));
    assert.equal(views.filter((v) => v.provisionable).length, 2);
    assert.ok(views.every((v) => Date.parse(v.readAt) >= before - 1000));
  } finally {
    client.close();
    await sim.close();
  }
});

Deno.test({
  name: "into etcd: one key per reservation, rewritten only when it changed, deleted when the reservation is gone",
  ignore: !serviceAvailable(etcdRequirement),
  async fn() {
    await using etcd = await startEtcd();
    const { sim, client, deviceId } = await simulatorWithOneDevice();
    try {
      const etcdClient = etcd.client();
      const prefix = "/test/reservations/";
      const publisher = new ReservationsPublisher(client, etcdReservationStore(etcdClient, prefix), {
        logger: quietLogger,
      });
      const watcher = new EtcdValue({
        client: etcdClient,
        key: prefix,
        rangeEnd: prefixRangeEnd(prefix),
        decoder: decodeReservationKey(prefix),
      }).watch();
      try {
        await publisher.publishOnce();
        const initial = [await watcher.get(), await watcher.get(), await watcher.get()];
        assert.equal(initial.filter((e) => e.view?.deviceId === deviceId).length, 1);

        // A second read with nothing changed but the read time writes nothing.
        const revision = (await etcdClient.get(prefix + initial[0].id).exec()).header.revision;
        await publisher.publishOnce();
        assert.equal((await etcdClient.get(prefix + initial[0].id).exec()).header.revision, revision);

        // The device goes: its reservation is provisionable again, and only that key changes.
        await client.deleteDevice(deviceId);
        await sim.fleet.waitForState(deviceId, "deleted");
        await publisher.publishOnce();
        const change = await watcher.get();
        assert.equal(change.view?.deviceId, null);
        assert.equal(change.view?.provisionable, true);

        // A key of a reservation the provider no longer has is deleted.
        await etcdClient.put(prefix + "00000000-0000-4000-8000-000000000000").value("{}");
        assert.equal((await watcher.get()).id, "00000000-0000-4000-8000-000000000000");
        await publisher.publishOnce();
        assert.deepEqual(await watcher.get(), { id: "00000000-0000-4000-8000-000000000000", view: null });
      } finally {
        watcher.close();
      }
    } finally {
      client.close();
      await sim.close();
    }
  },
});

Deno.test("into etcd: a publish that etcd does not answer rejects with the signal's reason once it aborts", async () => {
  // A member that accepts connections and never answers (a hung host): each attempt waits out its deadline.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  const client = connectEtcd([`http://127.0.0.1:${(silent.addr as Deno.NetAddr).port}`]);
  try {
    const shutdown = new Error("shutting down");
    const controller = new AbortController();
    const view: ReservationView = {
      id: "r1",
      plan: null,
      metro: null,
      provisionable: true,
      deviceId: null,
      readAt: new Date().toISOString(),
    };
    const publishing = etcdReservationStore(client).publish([view], controller.signal);
    setTimeout(() => controller.abort(shutdown), 200);
    const started = performance.now();
    await assert.rejects(publishing, (error) => error === shutdown);
    const waitedMs = performance.now() - started;
    // Unaborted, the call would take its 6 attempts of 2 s each.
    assert.ok(waitedMs < 1_000, `rejected ${waitedMs.toFixed(0)} ms after the publish began`);
  } finally {
    client.close();
    silent.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});
