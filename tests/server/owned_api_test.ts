/**
 * The admin API's part for machines you own, against Redfish BMC simulators
 * and a real BMDB: power actions (what they would send, starting one, the
 * refusals: a read-only token, a foreign Origin, a bad action, no BMC, no
 * power control at all, a BMC that cannot be read), clearing a recorded SSH
 * host key, and the inventory view.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { Provider } from "../../bmdb/mod.ts";
import { PowerActions, Provisioner, TokenBucket } from "../../loops/mod.ts";
import { startAdminServer } from "../harness/admin_server.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { startOwnedFleet } from "../harness/owned_fleet.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { waitFor } from "../harness/wait.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

async function adopt(t: TestBmdb, provider: ConstructorParameters<typeof Provisioner>[1]) {
  await new Provisioner(t.bmdb, provider, {
    maxDevices: 0,
    creationLimiter: new TokenBucket({ intervalMs: 1, burst: 1 }),
    registry: new Registry(),
    logger: quietLogger,
  }).pass();
  const rows = await t.bmdb.read((q) => q.listMachines({ provider: Provider.Inventory, limit: 10 }));
  return Object.fromEntries(rows.map((m) => [m.providerId!, m.machineId]));
}

bmdbTest("power actions through the API: what would be sent, starting one, and each refusal", async (t) => {
  await using fleet = await startOwnedFleet(t.bmdb, {
    machines: [{ id: "n1" }, { id: "dark" }, { id: "nobmc", bmc: false }],
  });
  const ids = await adopt(t, fleet.provider);
  const power = new PowerActions({ bmdb: t.bmdb, providers: [fleet.provider], logger: quietLogger });
  await using server = await startAdminServer(t, { power });
  const call = (method: string, path: string, options: { token?: string; body?: unknown; origin?: string } = {}) =>
    fetch(`${server.url}/api/v1/${path}`, {
      method,
      headers: {
        ...server.auth(options.token),
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.origin ? { origin: options.origin } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
  const answer = async (response: Response) => ({ status: response.status, body: await response.json() });
  try {
    const plan = await answer(await call("GET", `machines/${ids.n1}/power?action=restart`));
    assert.equal(plan.status, 200);
    assert.match(plan.body.description, /^GracefulRestart, then ForceRestart .* to \/redfish\/v1\/Systems\/1 at http/);

    assert.equal(
      (await answer(await call("GET", `machines/${ids.n1}/power?action=restart`, { token: server.readonlyToken })))
        .status,
      403,
    );
    assert.equal(
      (await answer(
        await call("POST", `machines/${ids.n1}/power`, { token: server.readonlyToken, body: { action: "off" } }),
      )).status,
      403,
    );
    assert.equal(
      (await answer(
        await call("POST", `machines/${ids.n1}/power`, { body: { action: "off" }, origin: "https://evil.example" }),
      )).status,
      403,
    );
    const bad = await answer(await call("POST", `machines/${ids.n1}/power`, { body: { action: "reboot" } }));
    assert.deepEqual([bad.status, bad.body.field], [400, "action"]);
    assert.match(bad.body.error, /must be one of on, off, restart/);
    const badQuery = await answer(await call("GET", `machines/${ids.n1}/power?action=cycle`));
    assert.deepEqual([badQuery.status, badQuery.body.field], [400, "action"]);

    const noBmc = await answer(await call("POST", `machines/${ids.nobmc}/power`, { body: { action: "on" } }));
    assert.equal(noBmc.status, 422);
    assert.match(noBmc.body.error, /has no BMC in the inventory/);
    const unknown = await answer(
      await call("POST", `machines/${crypto.randomUUID()}/power`, { body: { action: "on" } }),
    );
    assert.equal(unknown.status, 404);
    await fleet.bmcs.get("dark")!.refuseConnections();
    const dark = await answer(await call("GET", `machines/${ids.dark}/power?action=off`));
    assert.equal(dark.status, 502);
    assert.match(dark.body.error, /^the BMC could not be read: /);

    const accepted = await answer(await call("POST", `machines/${ids.n1}/power`, { body: { action: "off" } }));
    assert.deepEqual(accepted, { status: 202, body: { machineId: ids.n1, action: "off" } });
    const history = await waitFor(async () => {
      const h = await t.bmdb.read((q) => q.listHistoryOf({ machineId: ids.n1 }));
      return h.some((e) => e.event === "PoweredOff") && h;
    }, { what: "PoweredOff in history" });
    const off = history.find((e) => e.event === "PoweredOff")!;
    assert.equal(off.actor, "admin");
    assert.match(off.detail ?? "", /^sent GracefulShutdown; PowerState Off$/);
  } finally {
    await power.close();
  }
});

bmdbTest(
  "without power control, power answers 422; a host key is cleared with the actor; the inventory view",
  async (t) => {
    await using fleet = await startOwnedFleet(t.bmdb, {
      machines: [{ id: "n1", location: "ams1-r04" }, { id: "n2", bmc: false }],
    });
    const ids = await adopt(t, fleet.provider);
    await using server = await startAdminServer(t);
    const none = await fetch(`${server.url}/api/v1/machines/${ids.n1}/power`, {
      method: "POST",
      headers: { ...server.auth(), "content-type": "application/json" },
      body: JSON.stringify({ action: "on" }),
    });
    assert.equal(none.status, 422);
    assert.match((await none.json()).error, /no provider of this Drover has power control/);

    const session = await t.bmdb.startSession();
    await session.transact((q) => q.machineSetSshHostKey({ machineId: ids.n1, sshHostKey: KEY }));
    await session.close();
    const cleared = await fetch(`${server.url}/api/v1/machines/${ids.n1}/ssh-host-key`, {
      method: "DELETE",
      headers: { ...server.auth(), "x-drover-actor": "alice" },
    });
    assert.deepEqual(await cleared.json(), { machineId: ids.n1, cleared: KEY });
    const readonly = await fetch(`${server.url}/api/v1/machines/${ids.n1}/ssh-host-key`, {
      method: "DELETE",
      headers: server.auth(server.readonlyToken),
    });
    assert.equal(readonly.status, 403);
    await readonly.body?.cancel();
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId: ids.n1 }));
    assert.deepEqual(history.map((h) => [h.event, h.actor]), [["HostKeyCleared", "admin:alice"]]);

    const inventory = await (await fetch(`${server.url}/api/v1/inventory`, { headers: server.auth() })).json();
    assert.equal(inventory.status, null, "no inventory status on this server's feed");
    assert.deepEqual(inventory.recorded, [
      { location: "ams1-r04", machines: 1, missing: 0, withoutBmc: 0 },
      { location: "test-rack", machines: 1, missing: 0, withoutBmc: 1 },
    ]);
  },
);
