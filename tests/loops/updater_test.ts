/**
 * The updater against the simulator and a real BMDB: provider status, public
 * IPv4, metro and reservation land in machine_provided, page by page; a
 * machine whose device is gone is marked Missing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Provider } from "../../bmdb/mod.ts";
import { EquinixClient } from "../../equinix/mod.ts";
import { Provisioner, TokenBucket, Updater } from "../../loops/mod.ts";
import { bmdbTest, countRows } from "../harness/bmdb.ts";
import { startCheckedSimulator } from "../harness/simulator.ts";
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
      const provisioner = new Provisioner(t.bmdb, client, {
        maxDevices: 5,
        chunkSize: 5,
        creationLimiter: new TokenBucket({ intervalMs: 1, burst: 10 }),
        registry,
        logger: quietLogger,
      });
      await provisioner.pass();
      const devices = sim.fleet.devices();
      await Promise.all(devices.map((d) => sim.fleet.waitForState(d.id, "active")));

      const updater = new Updater(t.bmdb, client, { pageSize: 2, registry, logger: quietLogger });
      const before = sim.stats.byOperation.findProjectDevices ?? 0;
      assert.deepEqual(await updater.pass(), { devices: 5, missing: 0 });
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
      assert.deepEqual(await updater.pass(), { devices: 4, missing: 1 });
      assert.deepEqual(await updater.pass(), { devices: 4, missing: 0 }, "marked once");
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
