/**
 * The Metal API simulator over real HTTP on loopback: device lifecycle,
 * machines, reservations, SSH keys, pagination, auth, every fault kind, the
 * admin endpoint, and `deno task sim` as a child process. Each test that
 * makes API requests checks the replies against the OpenAPI file (the
 * checked simulator of tests/harness/simulator.ts; the child's reply
 * directly), so every reply here also had to conform, except the one to a
 * path the simulator does not serve, which exists to be "unknown".
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  DeviceGoneError,
  type Exchange,
  MachineDownError,
  MachineNotRunningError,
  SimulatorClosedError,
  type SimulatorOptions,
  startSimulator,
} from "../../equinix/simulator/mod.ts";
import { metalFetch } from "../harness/metal_fetch.ts";
import { loadMetalOpenApi } from "../harness/openapi.ts";
import { type CheckedSimulator, startCheckedSimulator } from "../harness/simulator.ts";
import { aborted } from "../harness/wait.ts";
import { printedSettings } from "../harness/printed_settings.ts";

/** A quick device clock: the states are still distinct, tests take milliseconds. */
const FAST: SimulatorOptions["timing"] = { queuedMs: 40, provisioningMs: 60, rebootMs: 60, deprovisionMs: 40 };
const OS = "ubuntu_22_04";

/** Waits at most this long for a device state. */
const soon = () => AbortSignal.timeout(5_000);

function simulatorTest(name: string, options: SimulatorOptions, fn: (sim: CheckedSimulator) => Promise<void>): void {
  Deno.test(name, async () => {
    await using sim = await startCheckedSimulator({ timing: FAST, ...options });
    await fn(sim);
  });
}

/** Creates a device on the reservation over HTTP; returns the 201 body. */
async function createDevice(
  sim: CheckedSimulator,
  reservationId: string,
  extra: Record<string, unknown> = {},
) {
  const { body: reservation } = await metalFetch(sim, "GET", `/hardware-reservations/${reservationId}`);
  const reply = await metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
    body: {
      metro: reservation.facility.metro.code,
      plan: reservation.plan.slug,
      operating_system: OS,
      hardware_reservation_id: reservationId,
      ...extra,
    },
  });
  assert.equal(reply.status, 201, JSON.stringify(reply.body));
  return reply.body;
}

/** An active device on the first reservation. */
async function activeDevice(sim: CheckedSimulator, extra: Record<string, unknown> = {}) {
  const created = await createDevice(sim, sim.fleet.reservations()[0].id, extra);
  await sim.fleet.waitForState(created.id, "active", soon());
  return created;
}

simulatorTest(
  "a device goes queued → provisioning → active, with addresses, metro, plan, tags and hostname",
  { metros: ["sv"] },
  async (sim) => {
    const [first, second] = sim.fleet.reservations();
    const created = await createDevice(sim, first.id, { hostname: "node-1", tags: ["drover", "witness:1"] });
    assert.equal(created.state, "queued");
    const provisioning = sim.fleet.waitForState(created.id, "provisioning", soon());
    const active = sim.fleet.waitForState(created.id, "active", soon());
    assert.equal((await provisioning).state, "provisioning");
    await active;

    const { status, body: device } = await metalFetch(sim, "GET", `/devices/${created.id}`);
    assert.equal(status, 200);
    assert.equal(device.state, "active");
    assert.equal(device.hostname, "node-1");
    assert.deepEqual(device.tags, ["drover", "witness:1"]);
    assert.deepEqual([device.metro.code, device.metro.name, device.metro.country], ["sv", "Silicon Valley", "US"]);
    assert.equal(device.plan.slug, "c3.small.x86");
    assert.equal(device.operating_system.slug, OS);
    assert.equal(device.hardware_reservation.href, `/metal/v1/hardware-reservations/${first.id}`);
    assert.equal(device.project.href, `/metal/v1/projects/${sim.projectId}`);
    const publicIPv4 = device.ip_addresses.find((a: { public: boolean }) => a.public);
    const privateIPv4 = device.ip_addresses.find((a: { public: boolean }) => !a.public);
    assert.deepEqual([publicIPv4.address_family, publicIPv4.management], [4, true]);
    assert.match(privateIPv4.address, /^10\./);
    assert.equal(sim.fleet.machine(created.id)?.publicIPv4, publicIPv4.address);
    assert.equal(sim.fleet.machine(created.id)?.boots, 1);

    const other = await createDevice(sim, second.id);
    const addresses = (d: { ip_addresses: { address: string }[] }) => d.ip_addresses.map((a) => a.address);
    assert.equal(new Set([...addresses(device), ...addresses(other)]).size, 4, "every address is unique");

    const included = await metalFetch(sim, "GET", `/devices/${created.id}?include=hardware_reservation`);
    assert.equal(included.body.hardware_reservation.id, first.id);
    assert.equal(included.body.hardware_reservation.provisionable, false);
  },
);

simulatorTest(
  "reboot: active → powering_off → powering_on → active; the program on the machine is aborted; boots is 2",
  {},
  async (sim) => {
    const device = await activeDevice(sim);
    const machine = sim.fleet.machine(device.id);
    assert.ok(machine?.running);
    const program = machine.run((signal) => aborted(signal));

    const poweringOff = sim.fleet.waitForState(device.id, "powering_off", soon());
    const poweringOn = sim.fleet.waitForState(device.id, "powering_on", soon());
    const reply = await metalFetch(sim, "POST", `/devices/${device.id}/actions`, { body: { type: "reboot" } });
    assert.equal(reply.status, 202);
    assert.equal(reply.body, undefined);
    const reason = await program;
    assert.ok(reason instanceof MachineDownError);
    assert.equal(reason.trigger, "reboot");
    await poweringOff;
    assert.equal(machine.running, false);
    await assert.rejects(machine.run(() => Promise.resolve()), MachineNotRunningError);
    await poweringOn;
    await sim.fleet.waitForState(device.id, "active", soon());
    assert.equal(machine.boots, 2);
    assert.equal(await machine.run(() => Promise.resolve("ran")), "ran");

    const again = await metalFetch(sim, "POST", `/devices/${device.id}/actions`, { body: { type: "power_on" } });
    assert.equal(again.status, 422, "power_on needs an inactive device");
    assert.match(again.body.errors[0], /^type: cannot power_on a device that is active/);
  },
);

simulatorTest("power_off → inactive aborts the program; power_on → active boots again", {}, async (sim) => {
  const device = await activeDevice(sim);
  const machine = sim.fleet.machine(device.id);
  assert.ok(machine);
  const program = machine.run((signal) => aborted(signal));
  assert.equal(
    (await metalFetch(sim, "POST", `/devices/${device.id}/actions`, { body: { type: "power_off" } })).status,
    202,
  );
  assert.equal(((await program) as MachineDownError).trigger, "power_off");
  await sim.fleet.waitForState(device.id, "inactive", soon());
  const reboot = await metalFetch(sim, "POST", `/devices/${device.id}/actions`, { body: { type: "reboot" } });
  assert.equal(reboot.status, 422, "an inactive device cannot reboot");
  assert.equal(
    (await metalFetch(sim, "POST", `/devices/${device.id}/actions`, { body: { type: "power_on" } })).status,
    202,
  );
  await sim.fleet.waitForState(device.id, "active", soon());
  assert.equal(machine.boots, 2);
});

simulatorTest(
  "delete: deprovisioning, then 404, and the reservation is provisionable again",
  {},
  async (sim) => {
    const device = await activeDevice(sim);
    const reservationId = sim.fleet.reservations()[0].id;
    const program = sim.fleet.machine(device.id)?.run((signal) => aborted(signal));

    assert.equal((await metalFetch(sim, "DELETE", `/devices/${device.id}`)).status, 204);
    assert.equal(((await program) as MachineDownError).trigger, "delete");
    const deprovisioning = await metalFetch(sim, "GET", `/devices/${device.id}`);
    assert.equal(deprovisioning.body.state, "deprovisioning");
    const reservation = await metalFetch(sim, "GET", `/hardware-reservations/${reservationId}`);
    assert.equal(reservation.body.provisionable, false, "still taken while deprovisioning");
    assert.equal(reservation.body.device.href, `/metal/v1/devices/${device.id}`);

    await sim.fleet.waitForState(device.id, "deleted", soon());
    const gone = await metalFetch(sim, "GET", `/devices/${device.id}`);
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, { errors: ["Not found"] });
    assert.equal((await metalFetch(sim, "DELETE", `/devices/${device.id}`)).status, 404);
    const free = await metalFetch(sim, "GET", `/hardware-reservations/${reservationId}`);
    assert.equal(free.body.provisionable, true);
    assert.equal(free.body.device, undefined);
    await assert.rejects(sim.fleet.waitForState(device.id, "active", soon()), DeviceGoneError);
    await createDevice(sim, reservationId);
  },
);

simulatorTest("creating a device on a taken reservation is refused with 422 and changes nothing", {}, async (sim) => {
  const [ours, theirs] = sim.fleet.reservations();
  await createDevice(sim, ours.id);
  const taken = sim.faults.takeReservation(theirs.id);
  assert.deepEqual(taken.tags, ["someone-else"]);

  for (const { id } of [ours, theirs]) {
    const { body: reservation } = await metalFetch(sim, "GET", `/hardware-reservations/${id}`);
    const reply = await metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
      body: {
        metro: reservation.facility.metro.code,
        plan: "c3.small.x86",
        operating_system: OS,
        hardware_reservation_id: reservation.id,
      },
    });
    assert.equal(reply.status, 422);
    assert.match(reply.body.errors[0], /^hardware_reservation_id: reservation .* is not provisionable/);
  }
  assert.equal(sim.fleet.devices().length, 2);
  const listed = await metalFetch(sim, "GET", `/projects/${sim.projectId}/hardware-reservations?provisionable=only`);
  assert.equal(listed.body.meta.total, sim.fleet.reservations().length - 2);
});

simulatorTest(
  "next-available picks a free reservation of the plan and metro",
  { metros: ["sv", "da"] },
  async (sim) => {
    const reply = await metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
      body: { metro: "da", plan: "c3.small.x86", operating_system: OS, hardware_reservation_id: "next-available" },
    });
    assert.equal(reply.status, 201);
    assert.equal(reply.body.metro.code, "da");
    const none = await metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
      body: { metro: "da", plan: "m3.large.x86", operating_system: OS, hardware_reservation_id: "next-available" },
    });
    assert.equal(none.status, 422);
    const onDemand = await metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
      body: { metro: "da", plan: "c3.small.x86", operating_system: OS },
    });
    assert.equal(onDemand.status, 422);
    assert.match(onDemand.body.errors[0], /reserved hardware only/);
  },
);

simulatorTest("a request without or with a wrong X-Auth-Token gets 401 in the API's error format", {}, async (sim) => {
  for (const token of [null, "wrong"]) {
    const reply = await metalFetch(sim, "GET", `/projects/${sim.projectId}/hardware-reservations`, { token });
    assert.equal(reply.status, 401);
    assert.equal(reply.headers.get("content-type"), "application/json");
    assert.equal(reply.body.errors.length, 1);
  }
  const create = await metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
    token: "wrong",
    body: { metro: "sv", plan: "c3.small.x86", operating_system: OS, hardware_reservation_id: "next-available" },
  });
  assert.equal(create.status, 401);
  assert.equal(sim.fleet.devices().length, 0);
});

simulatorTest("unknown ids, and path ids that are not UUIDs, get 404", {}, async (sim) => {
  const unknown = crypto.randomUUID();
  for (
    const path of [
      `/devices/${unknown}`,
      "/devices/not-a-uuid",
      `/hardware-reservations/${unknown}`,
      "/hardware-reservations/not-a-uuid",
      `/ssh-keys/${unknown}`,
      "/ssh-keys/not-a-uuid",
      `/projects/${unknown}`,
      "/projects/not-a-uuid",
      `/projects/${unknown}/devices`,
      `/projects/${unknown}/hardware-reservations`,
    ]
  ) {
    const reply = await metalFetch(sim, "GET", path);
    assert.equal(reply.status, 404, path);
    assert.deepEqual(reply.body, { errors: ["Not found"] }, path);
  }
  const action = await metalFetch(sim, "POST", `/devices/${unknown}/actions`, { body: { type: "reboot" } });
  assert.equal(action.status, 404);
});

Deno.test('a path the simulator does not serve gets 404 and is reported as operation "unknown"', async () => {
  const operations: string[] = [];
  await using sim = await startSimulator({ onExchange: (e) => operations.push(`${e.operationId} ${e.pathTemplate}`) });
  const reply = await metalFetch(sim, "GET", "/organizations");
  assert.equal(reply.status, 404);
  assert.deepEqual(reply.body, { errors: ["Not found"] });
  assert.deepEqual(operations, ["unknown /organizations"]);
});

simulatorTest("25 reservations list in 3 pages of 10 with the API's meta links", { reservations: 0 }, async (sim) => {
  sim.fleet.addReservations(25);
  const path = `/projects/${sim.projectId}/hardware-reservations`;
  const base = `/metal/v1${path}`;
  const first = await metalFetch(sim, "GET", `${path}?per_page=10`);
  assert.equal(first.status, 200);
  assert.equal(first.body.hardware_reservations.length, 10);
  assert.deepEqual(first.body.meta, {
    first: { href: `${base}?page=1&per_page=10` },
    self: { href: `${base}?page=1&per_page=10` },
    next: { href: `${base}?page=2&per_page=10` },
    last: { href: `${base}?page=3&per_page=10` },
    total: 25,
    current_page: 1,
    last_page: 3,
  });

  const seen = [...first.body.hardware_reservations];
  let meta = first.body.meta;
  while (meta.next) {
    const page = await metalFetch(sim, "GET", meta.next.href.slice("/metal/v1".length));
    seen.push(...page.body.hardware_reservations);
    meta = page.body.meta;
  }
  assert.deepEqual(seen.map((r) => r.id), sim.fleet.reservations().map((r) => r.id), "every one once, in order");
  assert.equal(meta.current_page, 3);
  assert.equal(meta.previous.href, `${base}?page=2&per_page=10`);
  assert.equal(meta.next, undefined);

  const past = await metalFetch(sim, "GET", `${path}?page=4&per_page=10`);
  assert.deepEqual(past.body.hardware_reservations, []);
  const defaults = await metalFetch(sim, "GET", path);
  assert.equal(defaults.body.hardware_reservations.length, 10, "per_page defaults to 10");
  assert.equal(defaults.body.meta.previous, undefined);
});

simulatorTest("page and per_page out of range get 422", {}, async (sim) => {
  for (const query of ["per_page=0", "per_page=1001", "per_page=ten", "page=0", "page=1.5"]) {
    for (const list of ["hardware-reservations", "devices"]) {
      const reply = await metalFetch(sim, "GET", `/projects/${sim.projectId}/${list}?${query}`);
      assert.equal(reply.status, 422, `${list}?${query}`);
      assert.match(reply.body.errors[0], /^(page|per_page): must be an integer/);
    }
  }
  assert.equal((await metalFetch(sim, "GET", `/projects/${sim.projectId}/devices?per_page=1000`)).status, 200);
});

simulatorTest("devices list filters by tag", {}, async (sim) => {
  const [a, b] = sim.fleet.reservations();
  const mine = await createDevice(sim, a.id, { tags: ["drover"] });
  await createDevice(sim, b.id, { tags: ["other"] });
  const reply = await metalFetch(sim, "GET", `/projects/${sim.projectId}/devices?tag=drover`);
  assert.deepEqual(reply.body.devices.map((d: { id: string }) => d.id), [mine.id]);
  assert.equal(reply.body.meta.total, 1);
  assert.equal(reply.body.meta.self.href, `/metal/v1/projects/${sim.projectId}/devices?tag=drover&page=1&per_page=10`);
});

simulatorTest("reservations include their device in full with include=device", {}, async (sim) => {
  const device = await createDevice(sim, sim.fleet.reservations()[0].id, { tags: ["witness"] });
  const path = `/projects/${sim.projectId}/hardware-reservations`;
  const plain = await metalFetch(sim, "GET", path);
  assert.deepEqual(plain.body.hardware_reservations[0].device, { href: `/metal/v1/devices/${device.id}` });
  const included = await metalFetch(sim, "GET", `${path}?include=project,device`);
  const reservation = included.body.hardware_reservations[0];
  assert.equal(reservation.device.id, device.id);
  assert.deepEqual(reservation.device.tags, ["witness"]);
  assert.equal(reservation.spare, false);
  assert.equal(reservation.need_of_service, false);
  assert.equal(reservation.plan.slug, "c3.small.x86");
  assert.ok(reservation.facility.code);
});

simulatorTest("SSH keys: create, list, get, update, delete", {}, async (sim) => {
  const path = `/projects/${sim.projectId}/ssh-keys`;
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl drover";
  const created = await metalFetch(sim, "POST", path, { body: { label: "drover", key } });
  assert.equal(created.status, 201);
  assert.equal(created.body.label, "drover");
  assert.equal(created.body.key, key);
  assert.match(created.body.fingerprint, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);

  const listed = await metalFetch(sim, "GET", path);
  assert.deepEqual(listed.body.ssh_keys.map((k: { id: string }) => k.id), [created.body.id]);
  const fetched = await metalFetch(sim, "GET", `/ssh-keys/${created.body.id}`);
  assert.deepEqual(fetched.body, created.body);

  const otherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBgUVKUiIC2ZAxWC5jSqDlnE8NeMTBCzn9hFRH7uqcQb other";
  const updated = await metalFetch(sim, "PUT", `/ssh-keys/${created.body.id}`, { body: { key: otherKey } });
  assert.equal(updated.status, 200);
  assert.equal(updated.body.label, "drover");
  assert.equal(updated.body.key, otherKey);
  assert.notEqual(updated.body.fingerprint, created.body.fingerprint);

  for (const body of [{ label: "x" }, { key }, { label: "", key }, { label: "x", key: "" }]) {
    const refused = await metalFetch(sim, "POST", path, { body });
    assert.equal(refused.status, 422, JSON.stringify(body));
  }
  assert.equal((await metalFetch(sim, "DELETE", `/ssh-keys/${created.body.id}`)).status, 204);
  assert.equal((await metalFetch(sim, "GET", `/ssh-keys/${created.body.id}`)).status, 404);
  assert.deepEqual((await metalFetch(sim, "GET", path)).body.ssh_keys, []);
});

simulatorTest("latency delays every reply by at least latencyMs", { faults: { latencyMs: 150 } }, async (sim) => {
  const started = performance.now();
  assert.equal((await metalFetch(sim, "GET", "/projects")).status, 200);
  assert.ok(performance.now() - started >= 150, `took ${performance.now() - started} ms`);
  sim.faults.set({ latencyMs: 0 });
  const quick = performance.now();
  await metalFetch(sim, "GET", "/projects");
  assert.ok(performance.now() - quick < 150);
});

simulatorTest("serverErrorRate 1 answers every request 5xx and changes nothing", {}, async (sim) => {
  sim.faults.set({ serverErrorRate: 1 });
  const reservation = sim.fleet.reservations()[0];
  const replies = [
    await metalFetch(sim, "GET", "/projects"),
    await metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
      body: { metro: "sv", plan: "c3.small.x86", operating_system: OS, hardware_reservation_id: reservation.id },
    }),
    await metalFetch(sim, "POST", `/projects/${sim.projectId}/ssh-keys`, {
      body: { label: "a", key: "ssh-ed25519 AAAA" },
    }),
  ];
  for (const reply of replies) {
    assert.ok(reply.status >= 500 && reply.status < 600, String(reply.status));
    assert.equal(reply.body.errors.length, 1);
  }
  assert.equal(sim.fleet.devices().length, 0);
  assert.deepEqual(sim.exchanges.map((e) => e.fault), ["server-error", "server-error", "server-error"]);
  sim.faults.clear();
  assert.deepEqual((await metalFetch(sim, "GET", `/projects/${sim.projectId}/ssh-keys`)).body.ssh_keys, []);
});

simulatorTest(
  "failNext answers the next requests of an operation with the status, changing nothing",
  {},
  async (sim) => {
    sim.faults.failNext(2, { status: 502, operationId: "createDevice" });
    assert.equal((await metalFetch(sim, "GET", "/projects")).status, 200, "other operations pass");
    const body = { metro: "sv", plan: "c3.small.x86", operating_system: OS, hardware_reservation_id: "next-available" };
    const path = `/projects/${sim.projectId}/devices`;
    assert.equal((await metalFetch(sim, "POST", path, { body })).status, 502);
    assert.equal((await metalFetch(sim, "POST", path, { body })).status, 502);
    assert.equal(sim.fleet.devices().length, 0);
    assert.equal((await metalFetch(sim, "POST", path, { body })).status, 201);

    sim.faults.failNext(1);
    assert.equal((await metalFetch(sim, "GET", "/projects")).status, 503, "503 by default, any operation");
    assert.throws(() => sim.faults.failNext(1, { operationId: "findDevice" }), RangeError);
  },
);

simulatorTest("rateLimitNext answers 429 with Retry-After", {}, async (sim) => {
  sim.faults.rateLimitNext(1, 3, { operationId: "findProjects" });
  const limited = await metalFetch(sim, "GET", "/projects");
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "3");
  assert.equal(limited.body.errors.length, 1);
  assert.equal((await metalFetch(sim, "GET", "/projects")).status, 200);
  assert.equal(sim.exchanges[0].fault, "rate-limit");
});

simulatorTest("loseNextReply: the change is made and the client gets no reply", {}, async (sim) => {
  sim.faults.loseNextReply("createDevice");
  const reservation = sim.fleet.reservations()[0];
  await assert.rejects(
    metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
      body: { metro: "sv", plan: "c3.small.x86", operating_system: OS, hardware_reservation_id: reservation.id },
      signal: AbortSignal.timeout(300),
    }),
    (error: Error) => error.name === "TimeoutError",
  );
  const [device] = sim.fleet.devices();
  assert.equal(device.hardware_reservation?.href, `/metal/v1/hardware-reservations/${reservation.id}`);
  const [exchange] = sim.exchanges;
  assert.deepEqual([exchange.status, exchange.lost, exchange.fault], [201, true, "lost-reply"]);
  assert.equal(
    (exchange.responseBody as { id: string }).id,
    device.id,
    "the exchange holds the reply the client missed",
  );
  assert.equal((await metalFetch(sim, "GET", `/devices/${device.id}`)).status, 200, "the next reply is not lost");
});

simulatorTest("lostReplyRate 1: every change is made and no reply is sent; 0 restores replies", {}, async (sim) => {
  sim.faults.set({ lostReplyRate: 1 });
  const reservation = sim.fleet.reservations()[0];
  await assert.rejects(
    metalFetch(sim, "POST", `/projects/${sim.projectId}/devices`, {
      body: { metro: "sv", plan: "c3.small.x86", operating_system: OS, hardware_reservation_id: reservation.id },
      signal: AbortSignal.timeout(300),
    }),
    (error: Error) => error.name === "TimeoutError",
  );
  assert.equal(sim.fleet.devices().length, 1, "the device was made");
  assert.deepEqual([sim.exchanges[0].lost, sim.exchanges[0].fault], [true, "lost-reply"]);
  assert.throws(() => sim.faults.set({ lostReplyRate: 1.5 }), /lostReplyRate must be in 0..1: current value is 1.5/);
  sim.faults.set({ lostReplyRate: 0 });
  assert.equal((await metalFetch(sim, "GET", "/projects")).status, 200);
});

Deno.test("closing the simulator answers a lost reply it holds (503) instead of waiting for the client", async () => {
  const reported = Promise.withResolvers<Exchange>();
  const sim = await startCheckedSimulator({ onExchange: (exchange) => reported.resolve(exchange) });
  sim.faults.loseNextReply("findProjects");
  const pending = metalFetch(sim, "GET", "/projects");
  assert.equal((await reported.promise).lost, true);
  await sim.close();
  assert.equal((await pending).status, 503);
});

simulatorTest("takeReservation: someone else's device occupies the reservation", {}, async (sim) => {
  const reservation = sim.fleet.reservations()[0];
  const device = sim.faults.takeReservation(reservation.id);
  assert.deepEqual(device.tags, ["someone-else"]);
  const reply = await metalFetch(sim, "GET", `/hardware-reservations/${reservation.id}?include=device`);
  assert.equal(reply.body.provisionable, false);
  assert.equal(reply.body.device.id, device.id);
  assert.deepEqual(reply.body.device.tags, ["someone-else"]);
  assert.throws(() => sim.faults.takeReservation(reservation.id), RangeError);
  assert.throws(() => sim.faults.takeReservation(crypto.randomUUID()), RangeError);
});

simulatorTest("the agent endpoint answers 501 on a simulator started without an agent starter", {}, async (sim) => {
  const noAgents = await metalFetch(sim, "POST", `/_sim/devices/${crypto.randomUUID()}/agent`, { body: {} });
  assert.equal(noAgents.status, 501);
  assert.match(noAgents.body.errors[0], /runs no agents/);
});

simulatorTest("the admin endpoint needs the token and changes faults", {}, async (sim) => {
  const denied = await metalFetch(sim, "POST", "/_sim/faults", { token: "wrong", body: { latencyMs: 5 } });
  assert.equal(denied.status, 401);
  assert.equal(denied.body.errors.length, 1);
  assert.equal((await metalFetch(sim, "GET", "/_sim/state", { token: null })).status, 401);

  const set = await metalFetch(sim, "POST", "/_sim/faults", { body: { latencyMs: 5, serverErrorRate: 0.5 } });
  assert.deepEqual(set.body, { latencyMs: 5, serverErrorRate: 0.5, lostReplyRate: 0 });
  const bad = await metalFetch(sim, "POST", "/_sim/faults", { body: { serverErrorRate: 2 } });
  assert.equal(bad.status, 422);
  const notAnInt = await metalFetch(sim, "POST", "/_sim/fail-next", { body: { count: "two" } });
  assert.equal(notAnInt.status, 422);
  assert.match(notAnInt.body.errors[0], /^count: /);
  const malformed = await metalFetch(sim, "POST", "/_sim/faults", { body: "{" });
  assert.equal(malformed.status, 422);
  assert.match(malformed.body.errors[0], /^\(body\): malformed JSON/);
  assert.equal((await metalFetch(sim, "POST", "/_sim/clear")).status, 204);
  assert.deepEqual((await metalFetch(sim, "GET", "/_sim/state")).body.faults, {
    latencyMs: 0,
    serverErrorRate: 0,
    lostReplyRate: 0,
    replies: [],
    lostReplies: [],
  });

  assert.equal(
    (await metalFetch(sim, "POST", "/_sim/fail-next", { body: { count: 1, status: 500, operationId: "findProjects" } }))
      .status,
    204,
  );
  assert.equal((await metalFetch(sim, "GET", "/projects")).status, 500);
  await metalFetch(sim, "POST", "/_sim/rate-limit-next", { body: { retryAfterSeconds: 7 } });
  assert.equal((await metalFetch(sim, "GET", "/projects")).headers.get("retry-after"), "7");
  const typo = await metalFetch(sim, "POST", "/_sim/lose-next-reply", { body: { operationId: "findProject" } });
  assert.equal(typo.status, 422);
  assert.match(typo.body.errors[0], /operationId must be one the simulator serves/);

  const reservation = sim.fleet.reservations()[0];
  const taken = await metalFetch(sim, "POST", `/_sim/reservations/${reservation.id}/take`);
  assert.equal(taken.status, 201);
  assert.deepEqual(taken.body.tags, ["someone-else"]);
  const state = await metalFetch(sim, "GET", "/_sim/state");
  assert.equal(state.body.projectId, sim.projectId);
  assert.equal(state.body.devices[0].id, taken.body.id);
  assert.equal(state.body.stats.requests, 2, "admin requests are not API requests");
});

simulatorTest("stats count requests per operation, their arrivals and the most in flight", {}, async (sim) => {
  sim.faults.set({ latencyMs: 100 });
  await Promise.all([metalFetch(sim, "GET", "/projects"), metalFetch(sim, "GET", `/projects/${sim.projectId}`)]);
  sim.faults.set({ latencyMs: 0 });
  await metalFetch(sim, "GET", "/projects");
  assert.equal(sim.stats.requests, 3);
  assert.deepEqual(sim.stats.byOperation, { findProjects: 2, findProjectById: 1 });
  assert.equal(sim.stats.maxInFlight, 2);
  assert.equal(sim.stats.arrivals.length, 3);
  assert.ok(sim.stats.arrivals[2] - sim.stats.arrivals[0] >= 100, "the third came after the slow pair");
});

simulatorTest("a machine runs programs only while its device is active", {}, async (sim) => {
  const created = await createDevice(sim, sim.fleet.reservations()[0].id);
  const machine = sim.fleet.machine(created.id);
  assert.ok(machine);
  assert.equal(machine.boots, 0);
  await assert.rejects(machine.run(() => Promise.resolve()), (error: MachineNotRunningError) => {
    assert.ok(error instanceof MachineNotRunningError);
    assert.equal(error.deviceId, created.id);
    assert.equal(error.state, "queued");
    return true;
  });
  await sim.fleet.waitForState(created.id, "active", soon());
  assert.equal(machine.running, true);
  assert.equal(sim.fleet.machine(crypto.randomUUID()), undefined);
});

Deno.test("close() aborts running programs and pending waits, and stops the device clock", async () => {
  const sim = await startSimulator({ timing: FAST });
  const reservation = sim.fleet.reservations()[0];
  const queued = sim.faults.takeReservation(reservation.id);
  const waiting = sim.fleet.waitForState(queued.id, "active");
  await waiting;
  const program = sim.fleet.machine(queued.id)?.run((signal) => aborted(signal));
  const other = sim.faults.takeReservation(sim.fleet.reservations()[1].id);
  const neverActive = sim.fleet.waitForState(other.id, "active");
  await sim.close();
  assert.equal(((await program) as MachineDownError).trigger, "simulator_closed");
  await assert.rejects(neverActive, SimulatorClosedError);
  await sim.close(); // idempotent
});

Deno.test("startSimulator refuses a projectId that is not a UUID and keeps one in lower case", async () => {
  await assert.rejects(startSimulator({ projectId: "nope" }), RangeError);
  const projectId = crypto.randomUUID();
  await using sim = await startCheckedSimulator({ projectId: projectId.toUpperCase() });
  assert.equal(sim.projectId, projectId);
  assert.equal((await metalFetch(sim, "GET", `/projects/${projectId}`)).body.id, projectId);
});

Deno.test("waitForState rejects with the signal's reason", async () => {
  await using sim = await startSimulator({ timing: { queuedMs: 60_000 } });
  const device = sim.faults.takeReservation(sim.fleet.reservations()[0].id);
  const controller = new AbortController();
  const waiting = sim.fleet.waitForState(device.id, "active", controller.signal);
  controller.abort(new Error("test gave up"));
  await assert.rejects(waiting, /test gave up/);
  await assert.rejects(sim.fleet.waitForState(crypto.randomUUID(), "active"), DeviceGoneError);
});

/** `deno task sim` as a child process, in the repository. */
function simCommand(args: string[], options: Deno.CommandOptions = {}): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "sim", ...args],
    cwd: new URL("../../", import.meta.url),
    ...options,
  });
}

/** Reads stdout until the NAME=value lines `names` were printed; returns them. */
Deno.test("deno task sim prints its URL, token and project, answers, and exits 0 on SIGTERM", async () => {
  const child = simCommand(
    ["--listen", "127.0.0.1:0", "--token", "t0ken", "--reservations", "3", "--metros", "am"],
    { stdin: "null", stdout: "piped", stderr: "piped" },
  ).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const printed = await printedSettings(reader, ["EQUINIX_API_URL", "EQUINIX_API_TOKEN", "EQUINIX_PROJECT_ID"]);
  assert.match(printed.EQUINIX_API_URL, /^http:\/\/127\.0\.0\.1:\d+\/metal\/v1$/);
  assert.equal(printed.EQUINIX_API_TOKEN, "t0ken");
  const url = printed.EQUINIX_API_URL;
  const sim = { url, origin: new URL(url).origin, token: "t0ken" };
  const reply = await metalFetch(sim, "GET", `/projects/${printed.EQUINIX_PROJECT_ID}/hardware-reservations`);
  assert.equal(reply.status, 200);
  assert.deepEqual((await loadMetalOpenApi()).validateResponse("findProjectHardwareReservations", 200, reply.body), []);
  assert.equal(reply.body.meta.total, 3);
  assert.equal(reply.body.hardware_reservations[0].facility.metro.code, "am");

  child.kill("SIGTERM");
  const status = await child.status;
  await reader.cancel();
  assert.equal(status.code, 0, await stderr);
  assert.match(await stderr, /stopped \(SIGTERM\)/);
});

Deno.test("deno task sim with a bad flag prints the usage on stderr and exits 2; --help lists every flag", async () => {
  const bad = [
    ["--bogus"],
    ["--reservations", "many"],
    ["--listen", "nowhere"],
    ["extra"],
    // Refused by startSimulator rather than by the flag parser.
    ["--listen", "127.0.0.1:0", "--project", "nope"],
    ["--listen", "127.0.0.1:0", "--metros", "SV"],
  ];
  for (const args of bad) {
    const { code, stdout, stderr } = await simCommand(args).output();
    assert.equal(code, 2, args.join(" "));
    assert.equal(new TextDecoder().decode(stdout), "");
    assert.match(new TextDecoder().decode(stderr), /Usage: deno task sim/);
  }
  const help = await simCommand(["--help"]).output();
  assert.equal(help.code, 0);
  const usage = new TextDecoder().decode(help.stdout);
  for (
    const flag of [
      "--listen",
      "--token",
      "--project",
      "--reservations",
      "--plan",
      "--metros",
      "--latency-ms",
      "--error-rate",
      "--queued-ms",
      "--provisioning-ms",
      "--reboot-ms",
      "--deprovision-ms",
      "--help",
    ]
  ) {
    assert.match(usage, new RegExp(`^  ${flag} `, "m"), flag);
  }
  assert.match(usage, /default 127\.0\.0\.1:8081/);
});

simulatorTest(
  "a device profile gives a reservation's device its own provisioning time, or a provisioning that fails",
  {
    reservations: 2,
    metros: ["sv"],
    timing: { ...FAST, provisioningMs: 5_000 },
    deviceProfile: ({ reservationIndex, hostname }) =>
      reservationIndex === 0 ? { provisioningMs: 20 } : { failProvisioning: hostname === "doomed", provisioningMs: 20 },
  },
  async (sim) => {
    const [first, second] = sim.fleet.reservations();
    const quick = await createDevice(sim, first.id);
    await sim.fleet.waitForState(quick.id, "active", soon());
    const doomed = await createDevice(sim, second.id, { hostname: "doomed" });
    const failed = await sim.fleet.waitForState(doomed.id, "failed", soon());
    assert.equal(failed.state, "failed");
    // Still on its reservation: a failed provisioning does not free it.
    const { body } = await metalFetch(sim, "GET", `/hardware-reservations/${second.id}?include=device`);
    assert.equal(body.device?.id ?? body.device?.href?.split("/").pop(), doomed.id);
    assert.equal(sim.fleet.machine(doomed.id)?.running, false, "a failed device's machine never booted");
  },
);
