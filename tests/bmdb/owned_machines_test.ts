/**
 * The BMDB's side of machines you own (migration 0009): Inventory machines
 * recorded beside Equinix ones, what their BMC reports written exactly or
 * kept, the recovery of a machine powered off behind Drover's back (and not
 * of one an operator holds off, nor a Missing one), the SSH host key recorded
 * on first use and cleared by an operator, and the inventory's counts per
 * location.
 *
 * @module
 */
import assert from "node:assert/strict";
import { InvalidArgumentError, MachineNotFoundError, Process, Provider, ProviderStatus } from "../../bmdb/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const OTHER_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBwzr0E2gQ9oGfNVn2C0k5Gk6Oq2jvTPIVFyLEdbnFj4";

async function record(t: TestBmdb, devices: Parameters<typeof inventoryDevice>[0][]) {
  const session = await t.bmdb.startSession();
  try {
    return await session.transact((q) =>
      q.newProvidedMachines({ provider: Provider.Inventory, devices: devices.map(inventoryDevice) })
    );
  } finally {
    await session.close();
  }
}

function inventoryDevice(d: { id: string; location?: string; bmc?: string | null; status?: ProviderStatus }) {
  return {
    providerId: d.id,
    providerIpAddress: "10.0.0.1",
    providerLocation: d.location ?? "ams1-r04",
    providerBmc: d.bmc === undefined ? `https://bmc-${d.id}` : d.bmc,
    providerStatus: d.status ?? ProviderStatus.Running,
  };
}

async function provided(t: TestBmdb, providerId: string) {
  const rows = await t.sql(`SELECT * FROM machine_provided WHERE provider = 'Inventory' AND provider_id = $1`, [
    providerId,
  ]);
  return rows[0];
}

bmdbTest(
  "Inventory machines are recorded beside Equinix ones, and a report's exact fields clear what it leaves null",
  async (t) => {
    const [m] = await record(t, [{ id: "n17" }]);
    const session = await t.bmdb.startSession();
    try {
      // Same provider id at another provider: a different machine.
      await session.transact((q) =>
        q.newProvidedMachines({
          provider: Provider.Equinix,
          devices: [{ providerId: "n17", providerStatus: "Running" }],
        })
      );
      const unreachable = {
        providerId: "n17",
        providerStatus: ProviderStatus.Unknown,
        providerStatusCause: "BMC https://bmc-n17 could not be read: connection refused",
        providerPowerState: null,
        providerHealth: null,
      };
      let written = await session.transact((q) =>
        q.machinesUpdateProviderStatus({
          provider: Provider.Inventory,
          devices: [unreachable],
          exact: ["providerStatusCause", "providerPowerState", "providerHealth"],
        })
      );
      assert.equal(written.length, 1);
      assert.equal((await provided(t, "n17")).provider_status_cause, unreachable.providerStatusCause);

      // Readable again: the cause is cleared because the report states it exactly; the BMC is kept (not exact).
      written = await session.transact((q) =>
        q.machinesUpdateProviderStatus({
          provider: Provider.Inventory,
          devices: [{
            providerId: "n17",
            providerStatus: ProviderStatus.Stopped,
            providerPowerState: "Off",
            providerHealth: "OK",
            providerStatusCause: null,
          }],
          exact: ["providerStatusCause", "providerPowerState", "providerHealth"],
        })
      );
      assert.equal(written[0].machineId, m.machineId);
      const row = await provided(t, "n17");
      assert.deepEqual(
        [
          row.provider_status,
          row.provider_power_state,
          row.provider_health,
          row.provider_status_cause,
          row.provider_bmc,
        ],
        ["Stopped", "Off", "OK", null, "https://bmc-n17"],
      );

      // The same report again writes nothing.
      written = await session.transact((q) =>
        q.machinesUpdateProviderStatus({
          provider: Provider.Inventory,
          devices: [{ providerId: "n17", providerStatus: ProviderStatus.Stopped, providerPowerState: "Off" }],
          exact: ["providerPowerState"],
        })
      );
      assert.equal(written.length, 0);

      await assert.rejects(
        () =>
          session.transact((q) =>
            q.machinesUpdateProviderStatus({
              provider: Provider.Inventory,
              devices: [{ providerId: "n17" }],
              exact: ["providerNonsense" as "providerBmc"],
            })
          ),
        (e: Error) => e instanceof InvalidArgumentError && e.message.includes("exact[0]"),
      );
    } finally {
      await session.close();
    }
    const equinix = await t.sql(`SELECT count(*)::int AS n FROM machine_provided WHERE provider_id = 'n17'`);
    assert.equal(equinix[0].n, 2);
  },
);

bmdbTest(
  "a machine powered off behind Drover's back is recovered; one held off, without a BMC, or Missing is not",
  async (t) => {
    const made = await record(t, [
      { id: "off", status: ProviderStatus.Stopped },
      { id: "held", status: ProviderStatus.Stopped },
      { id: "nobmc", status: ProviderStatus.Stopped, bmc: null },
      { id: "gone", status: ProviderStatus.Missing },
      { id: "on", status: ProviderStatus.Running },
    ]);
    const id = (providerId: string) => made.find((m) => m.providerId === providerId)!.machineId;
    await t.sql(`UPDATE machine_provided SET provider_held_off_at = now(), provider_held_off_by = 'admin:alice'
    WHERE provider_id = 'held'`);
    // The Missing one's agent went quiet: still not recovered (nothing to recover).
    await t.sql(
      `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key) VALUES ($1, now() - interval '2 hours', '\\x01')`,
      [id("gone")],
    );
    const eligible = await t.bmdb.read((q) =>
      q.getMachineForAgentRecovery({ provider: Provider.Inventory, limit: 10, startTimeoutSeconds: 60 })
    );
    assert.deepEqual(eligible.map((m) => m.providerId), ["off"]);
    assert.equal(eligible[0].providerBmc, "https://bmc-off");

    const why = await t.bmdb.read((q) => q.whyIdle({ machineId: id("held") }));
    const recoverer = why!.loops.find((l) => l.loop === "recoverer")!;
    const heldOff = recoverer.unmet.find((u) => u.condition === "notHeldOff");
    assert.match(heldOff?.detail ?? "", /powered off by admin:alice at /);
    const gone = (await t.bmdb.read((q) => q.whyIdle({ machineId: id("gone") })))!.loops.find((l) =>
      l.loop === "recoverer"
    )!;
    assert.deepEqual(gone.unmet.map((u) => u.condition), ["present"]);

    // An operator power action holds the machine: the shepherd keeps off it.
    const session = await t.bmdb.startSession();
    try {
      const work = await session.work(Process.PowerAction, () => Promise.resolve([id("off")]));
      const during = await t.bmdb.read((q) =>
        q.getMachineForAgentRecovery({ provider: Provider.Inventory, limit: 10 })
      );
      assert.deepEqual(during, []);
      await work.finish((q) =>
        q.machineSetPower({
          machineId: id("off"),
          providerStatus: ProviderStatus.Stopped,
          providerPowerState: "Off",
          heldOffBy: "admin:bob",
        })
      );
    } finally {
      await session.close();
    }
    const after = await provided(t, "off");
    assert.equal(after.provider_held_off_by, "admin:bob");
    assert.ok(after.provider_held_off_at instanceof Date);
    assert.deepEqual(
      await t.bmdb.read((q) => q.getMachineForAgentRecovery({ provider: Provider.Inventory, limit: 10 })),
      [],
    );
  },
);

bmdbTest(
  "the SSH host key recorded on first use stays, and an operator's clearing is in history with the actor",
  async (t) => {
    const [m] = await record(t, [{ id: "n1" }]);
    const session = await t.bmdb.startSession();
    try {
      await session.transact((q) => q.machineSetSshHostKey({ machineId: m.machineId, sshHostKey: KEY }));
      // First one wins.
      await session.transact((q) => q.machineSetSshHostKey({ machineId: m.machineId, sshHostKey: OTHER_KEY }));
      await assert.rejects(
        () => session.transact((q) => q.machineSetSshHostKey({ machineId: m.machineId, sshHostKey: "not a key" })),
        (e: Error) => e instanceof InvalidArgumentError && /sshHostKey/.test(e.message),
      );
    } finally {
      await session.close();
    }
    assert.equal(await t.bmdb.read((q) => q.getSshHostKey({ machineId: m.machineId })), KEY);
    const detail = await t.bmdb.read((q) => q.getMachine({ machineId: m.machineId }));
    assert.equal(detail?.sshHostKey?.key, KEY);

    assert.equal(await t.bmdb.clearSshHostKey({ machineId: m.machineId, actor: "admin:alice" }), KEY);
    assert.equal(await t.bmdb.clearSshHostKey({ machineId: m.machineId, actor: "admin:alice" }), null);
    assert.equal(await t.bmdb.read((q) => q.getSshHostKey({ machineId: m.machineId })), null);
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId: m.machineId }));
    assert.deepEqual(
      history.map((h) => [h.event, h.actor, h.detail]),
      [["HostKeyCleared", "admin:alice", `cleared ${KEY}`], ["HostKeyCleared", "admin:alice", "no key was recorded"]],
    );
    await assert.rejects(
      () => t.bmdb.clearSshHostKey({ machineId: crypto.randomUUID(), actor: "admin" }),
      MachineNotFoundError,
    );
  },
);

bmdbTest(
  "the inventory's machines per location: recorded, Missing and without a BMC; filtered by provider",
  async (t) => {
    await record(t, [
      { id: "a1", location: "ams1-r04" },
      { id: "a2", location: "ams1-r04", bmc: null },
      { id: "a3", location: "ams1-r04", status: ProviderStatus.Missing },
      { id: "b1", location: "AMS1-R05" },
    ]);
    assert.deepEqual(await t.bmdb.read((q) => q.inventoryLocations()), [
      { location: "AMS1-R05", machines: 1, missing: 0, withoutBmc: 0 },
      { location: "ams1-r04", machines: 3, missing: 1, withoutBmc: 1 },
    ]);
    const byLocation = await t.bmdb.read((q) => q.listMachines({ q: "AMS1-R05" }));
    assert.deepEqual(byLocation.map((m) => m.providerId), ["b1"], "an inventory's location is found as written");
    const inventory = await t.bmdb.read((q) => q.listMachines({ provider: Provider.Inventory, limit: 10 }));
    assert.equal(inventory.length, 4);
    assert.deepEqual(await t.bmdb.read((q) => q.listMachines({ provider: Provider.Equinix })), []);
  },
);
