/**
 * EquinixClient against the Metal API simulator over loopback: the rate
 * limit, serialisation, retries, deadlines, aborts and idempotent creates run
 * for real. Every test uses the checked simulator, so each reply the client
 * saw also conformed to the OpenAPI file (its `close()` fails the test
 * otherwise). One test (malformed replies) needs a reply the simulator never
 * gives, and uses a tiny `Deno.serve` of its own.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import {
  ClientClosedError,
  DeadlineExceededError,
  type Device,
  EquinixClient,
  type EquinixClientOptions,
  idFromHref,
  MalformedReplyError,
  MetalApiError,
  METRIC_NAMES,
  NoReservationProvidedError,
  RaceLostError,
  RequestFailedError,
  SSHKeyLabelConflictError,
} from "../../equinix/mod.ts";
import type { SimulatorOptions } from "../../equinix/simulator/mod.ts";
import { type CheckedSimulator, startCheckedSimulator } from "../harness/simulator.ts";
import { waitFor } from "../harness/wait.ts";

/** Fast settings: tests wait milliseconds, not the API's seconds. */
const FAST: Partial<EquinixClientOptions> = {
  apiRate: 5,
  initialBackoffMs: 10,
  maxBackoffMs: 40,
  requestTimeoutMs: 5_000,
  maxElapsedMs: 10_000,
};

function simTest(
  name: string,
  fn: (sim: CheckedSimulator) => Promise<void>,
  options: SimulatorOptions = {},
): void {
  Deno.test(name, async () => {
    // One metro, so a create request can name it without looking up the reservation's site.
    await using sim = await startCheckedSimulator({ metros: ["sv"], ...options });
    await fn(sim);
  });
}

function clientFor(sim: CheckedSimulator, options: Partial<EquinixClientOptions> = {}): EquinixClient {
  return new EquinixClient({ baseUrl: sim.url, token: sim.token, projectId: sim.projectId, ...FAST, ...options });
}

const OS = "ubuntu_24_04";

/** A create request for reservation `index` of the simulator (plan and metro as the reservation has them). */
function createRequest(sim: CheckedSimulator, index = 0, hostname = `m${index}`) {
  const reservation = sim.fleet.reservations()[index];
  return {
    hardware_reservation_id: reservation.id,
    plan: reservation.plan?.slug ?? "c3.small.x86",
    metro: "sv",
    operating_system: OS,
    hostname,
  };
}

/** The value of a counter for exactly these labels (0 when never incremented). */
async function count(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** The simulator's devices on a reservation (a device names its reservation by href). */
function devicesOn(sim: CheckedSimulator, reservationId: string): Device[] {
  return sim.fleet.devices().filter((d) => idFromHref(d.hardware_reservation?.href) === reservationId);
}

/** Requests the simulator has received so far. */
function requests(sim: CheckedSimulator): number {
  return sim.stats.requests;
}

simTest("calls issued together are spaced apiRate apart, one in flight, in the order they were made", async (sim) => {
  using client = clientFor(sim, { apiRate: 100 });
  await client.listSSHKeys(); // opens the connection, so the first timed request does not pay for it
  const first = sim.stats.arrivals.length;
  const calls = [
    client.listSSHKeys(),
    client.listReservations(),
    client.listDevices(),
    client.getReservation(sim.fleet.reservations()[0].id),
    client.listSSHKeys(),
  ];
  await Promise.all(calls);
  const arrivals = sim.stats.arrivals.slice(first);
  assert.equal(arrivals.length, 5);
  const span = arrivals[4] - arrivals[0];
  assert.ok(span >= 4 * 100, `5 requests 100 ms apart span at least 400 ms; got ${span.toFixed(1)} ms`);
  assert.equal(sim.stats.maxInFlight, 1);
  assert.deepEqual(
    sim.exchanges.slice(-5).map((e) => e.operationId),
    [
      "findProjectSSHKeys",
      "findProjectHardwareReservations",
      "findProjectDevices",
      "findHardwareReservationById",
      "findProjectSSHKeys",
    ],
    "FIFO: requests arrive in call order",
  );
});

simTest("slow replies still never overlap: the next call waits for the reply, not just the rate", async (sim) => {
  using client = clientFor(sim, { apiRate: 0 });
  sim.faults.set({ latencyMs: 40 });
  await Promise.all(Array.from({ length: 4 }, () => client.listSSHKeys()));
  assert.equal(sim.stats.maxInFlight, 1);
  assert.equal(sim.stats.byOperation.findProjectSSHKeys, 4);
});

simTest("a 5xx is retried and the call succeeds", async (sim) => {
  using client = clientFor(sim);
  sim.faults.failNext(2, { status: 503 });
  const keys = await client.listSSHKeys();
  assert.ok(Array.isArray(keys));
  assert.equal(requests(sim), 3);
  assert.deepEqual(sim.exchanges.map((e) => e.status), [503, 503, 200]);
});

simTest("a 429 is retried no sooner than its Retry-After", async (sim) => {
  using client = clientFor(sim, { initialBackoffMs: 10 });
  sim.faults.rateLimitNext(1, 1);
  const reservations = await client.listReservations();
  assert.equal(reservations.length, sim.fleet.reservations().length);
  const [limited, retried] = sim.stats.arrivals;
  assert.equal(sim.stats.arrivals.length, 2);
  assert.ok(retried - limited >= 1_000, `Retry-After: 1 honoured; retried after ${(retried - limited).toFixed(0)} ms`);
});

simTest("a 4xx fails at once with the API's message, after one request", async (sim) => {
  using client = clientFor(sim);
  const error = await client.getDevice(crypto.randomUUID()).catch((e) => e);
  assert.ok(error instanceof MetalApiError);
  assert.equal(error.status, 404);
  assert.equal(error.operation, "getDevice");
  const apiBody = sim.exchanges.at(-1)?.responseBody as { errors?: string[]; error?: string };
  const apiMessages = apiBody.errors ?? [apiBody.error];
  assert.deepEqual(error.messages, apiMessages, "the API's own messages");
  assert.ok(error.message.includes(String(apiMessages[0])) && error.message.includes("404"), error.message);
  assert.equal(requests(sim), 1, "one request, no retry");

  sim.faults.failNext(1, { status: 422 });
  const refused = await client.listDevices().catch((e) => e);
  assert.ok(refused instanceof MetalApiError);
  assert.equal(refused.status, 422);
  assert.equal(requests(sim), 2);
});

simTest("a wrong token is a 401 at once, and the token never shows in the error", async (sim) => {
  const token = "very-secret-token-value";
  using client = clientFor(sim, { token });
  const error = await client.listDevices().catch((e) => e);
  assert.ok(error instanceof MetalApiError);
  assert.equal(error.status, 401);
  assert.ok(!error.message.includes(token) && !String(error.stack).includes(token));
  assert.equal(requests(sim), 1);
});

simTest("transient failures past maxElapsedMs end in DeadlineExceededError carrying the last error", async (sim) => {
  using client = clientFor(sim, { maxElapsedMs: 300, initialBackoffMs: 20, maxBackoffMs: 50 });
  sim.faults.set({ serverErrorRate: 1 });
  const started = performance.now();
  const error = await client.listSSHKeys().catch((e) => e);
  const elapsed = performance.now() - started;
  assert.ok(error instanceof DeadlineExceededError, String(error));
  assert.equal(error.operation, "listSSHKeys");
  assert.ok(error.cause instanceof MetalApiError && error.cause.status >= 500, String(error.cause));
  assert.ok(error.attempts >= 3, `attempts: ${error.attempts}`);
  assert.equal(error.attempts, requests(sim));
  assert.ok(elapsed < 300 + 500, `gave up near the deadline, after ${elapsed.toFixed(0)} ms`);
});

simTest("lost replies (timeouts) are retried, and the deadline's cause says so", async (sim) => {
  using client = clientFor(sim, { requestTimeoutMs: 100, maxElapsedMs: 250 });
  sim.faults.set({ latencyMs: 10_000 });
  const error = await client.listSSHKeys().catch((e) => e);
  assert.ok(error instanceof DeadlineExceededError, String(error));
  assert.ok(error.cause instanceof RequestFailedError && error.cause.kind === "timeout", String(error.cause));
  assert.ok(error.attempts >= 2);
});

simTest("abort: a call waiting in the queue leaves at once, and never sends a request", async (sim) => {
  using client = clientFor(sim, { apiRate: 0 });
  sim.faults.set({ latencyMs: 300 });
  const inFlight = client.listSSHKeys();
  const controller = new AbortController();
  const queued = client.listReservations({ signal: controller.signal });
  const reason = new Error("operator gave up");
  const started = performance.now();
  controller.abort(reason);
  await assert.rejects(queued, (e) => e === reason);
  assert.ok(performance.now() - started < 100, "rejected without waiting for the call ahead");
  await inFlight;
  sim.faults.clear();
  await client.listDevices(); // the queue moved on past the aborted call
  assert.equal(sim.stats.byOperation.findProjectHardwareReservations ?? 0, 0);
  assert.deepEqual(sim.exchanges.map((e) => e.operationId), ["findProjectSSHKeys", "findProjectDevices"]);
});

simTest("abort: a call in flight stops at once, and is not retried", async (sim) => {
  using client = clientFor(sim, { apiRate: 0 });
  sim.faults.set({ latencyMs: 10_000 });
  const controller = new AbortController();
  const call = client.listReservations({ signal: controller.signal });
  await waitFor(() => requests(sim) === 1, { what: "the request to arrive" });
  const started = performance.now();
  controller.abort(new Error("stop"));
  await assert.rejects(call, { message: "stop" });
  assert.ok(performance.now() - started < 200, "did not wait for the reply");
  sim.faults.clear();
  await client.listSSHKeys();
  assert.equal(requests(sim), 2, "no retry of the aborted call");
});

simTest("abort: a call waiting between retries stops at once", async (sim) => {
  using client = clientFor(sim, { initialBackoffMs: 10_000, maxBackoffMs: 10_000, maxElapsedMs: 60_000 });
  sim.faults.failNext(1, { status: 503 });
  const controller = new AbortController();
  const call = client.listReservations({ signal: controller.signal });
  await waitFor(() => sim.exchanges.length === 1, { what: "the 503 reply" });
  const started = performance.now();
  controller.abort(new Error("enough"));
  await assert.rejects(call, { message: "enough" });
  assert.ok(performance.now() - started < 200, "did not sleep out the backoff");
  await client.listSSHKeys();
  assert.deepEqual(sim.exchanges.map((e) => e.status), [503, 200]);
});

simTest("createDevice: a lost reply yields exactly one device, the one returned", async (sim) => {
  using client = clientFor(sim, { requestTimeoutMs: 300 });
  const request = createRequest(sim);
  sim.faults.loseNextReply("createDevice");
  const device = await client.createDevice(request);
  const onReservation = devicesOn(sim, request.hardware_reservation_id);
  assert.deepEqual(onReservation.map((d) => d.id), [device.id]);
  assert.equal(sim.stats.byOperation.createDevice, 1, "created once; the retry found it");
  const witness = device.tags?.find((t) => t.startsWith("drover-idempotency-"));
  assert.ok(witness !== undefined, `witness tag on ${device.tags}`);
  assert.equal(device.hostname, request.hostname);
  assert.deepEqual(
    sim.exchanges.map((e) => [e.operationId, e.lost]),
    [
      ["findHardwareReservationById", false],
      ["createDevice", true],
      ["findHardwareReservationById", false],
    ],
  );
  assert.equal(
    await count(client.metrics, METRIC_NAMES.requests, { operation: "createDevice", outcome: "timeout" }),
    1,
  );
});

simTest("createDevice: a free reservation gets a device carrying the caller's tags and the witness", async (sim) => {
  using client = clientFor(sim);
  const request = { ...createRequest(sim, 1, "web-1"), tags: ["role:web"] };
  const device = await client.createDevice(request);
  assert.deepEqual(request.tags, ["role:web"], "the caller's request is not changed");
  assert.ok(device.tags?.includes("role:web"));
  assert.equal(device.tags?.filter((t) => t.startsWith("drover-idempotency-")).length, 1);
  const active = await sim.fleet.waitForState(device.id, "active");
  assert.equal(active.id, device.id);
});

simTest("createDevice: a reservation someone else took is RaceLostError, and nothing is created", async (sim) => {
  using client = clientFor(sim);
  const request = createRequest(sim);
  const theirs = sim.faults.takeReservation(request.hardware_reservation_id);
  const error = await client.createDevice(request).catch((e) => e);
  assert.ok(error instanceof RaceLostError, String(error));
  assert.equal(error.reservationId, request.hardware_reservation_id);
  assert.equal(error.otherDeviceId, theirs.id);
  assert.equal(sim.stats.byOperation.createDevice ?? 0, 0);
  assert.equal(await count(client.metrics, METRIC_NAMES.errors, { operation: "createDevice", kind: "race_lost" }), 1);
});

Deno.test("createDevice: taken while our create was failing is RaceLostError on the retry", async () => {
  let reservationId = "";
  let taken: Device | undefined;
  await using sim = await startCheckedSimulator({
    onExchange: (exchange) => {
      // Another API user takes the reservation between our failed create and its retry.
      if (exchange.operationId === "createDevice" && exchange.fault !== undefined) {
        taken = sim.faults.takeReservation(reservationId);
      }
    },
  });
  using client = clientFor(sim);
  const request = createRequest(sim);
  reservationId = request.hardware_reservation_id;
  sim.faults.failNext(1, { status: 503, operationId: "createDevice" });
  const error = await client.createDevice(request).catch((e) => e);
  assert.ok(error instanceof RaceLostError, String(error));
  assert.equal(error.otherDeviceId, taken?.id);
  const onReservation = devicesOn(sim, reservationId);
  assert.deepEqual(onReservation.map((d) => d.id), [taken?.id], "only theirs");
});

Deno.test("a reservation's device: a reference is read by id to check the witness; a malformed one fails", async () => {
  // The simulator always honours include=device and always conforms, so a tiny server gives these replies.
  const reservationId = crypto.randomUUID();
  const malformedId = crypto.randomUUID();
  const theirs = crypto.randomUUID();
  const seen: string[] = [];
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const { pathname } = new URL(request.url);
    seen.push(`${request.method} ${pathname}`);
    if (pathname.endsWith(`/hardware-reservations/${reservationId}`)) {
      return Response.json({ id: reservationId, device: { href: `/metal/v1/devices/${theirs}` } });
    }
    if (pathname.endsWith(`/hardware-reservations/${malformedId}`)) {
      return Response.json({ id: malformedId, device: { id: theirs, state: "exploded", tags: [] } });
    }
    if (pathname.endsWith(`/devices/${theirs}`)) return Response.json({ id: theirs, state: "active", tags: ["x"] });
    return Response.json({ errors: ["unexpected"] }, { status: 500 });
  });
  using client = new EquinixClient({
    ...FAST,
    baseUrl: `http://127.0.0.1:${server.addr.port}/metal/v1`,
    token: "t",
    projectId: crypto.randomUUID(),
  });
  const error = await client.createDevice({
    hardware_reservation_id: reservationId,
    metro: "sv",
    plan: "c3.small.x86",
    operating_system: OS,
  }).catch((e) => e);
  assert.ok(error instanceof RaceLostError, String(error));
  assert.equal(error.otherDeviceId, theirs);
  assert.deepEqual(seen, [
    `GET /metal/v1/hardware-reservations/${reservationId}`,
    `GET /metal/v1/devices/${theirs}`,
  ]);

  const malformed = await client.getReservation(malformedId).catch((e) => e);
  assert.ok(malformed instanceof MalformedReplyError, String(malformed));
  assert.deepEqual(malformed.issues.map((i) => i.path), ["device.state"]);
});

simTest("getReservation includes its device in full; listReservations names it by id", async (sim) => {
  using client = clientFor(sim);
  const request = createRequest(sim, 0, "full");
  const created = await client.createDevice(request);
  const reservation = await client.getReservation(request.hardware_reservation_id);
  const device = reservation.device;
  assert.ok(device !== undefined && "state" in device, JSON.stringify(device));
  assert.equal(device.id, created.id);
  assert.equal(device.hostname, "full");
  assert.deepEqual(device.tags, created.tags);
  const listed = (await client.listReservations()).find((r) => r.id === request.hardware_reservation_id);
  assert.ok(listed?.device !== undefined && !("state" in listed.device), "a reference unless included");
  assert.equal(listed.device.id, created.id, "the reference's id, read from its href");
});

simTest("createDevice without a reservation is NoReservationProvidedError, with no request", async (sim) => {
  using client = clientFor(sim);
  const { hardware_reservation_id: _, ...request } = createRequest(sim);
  await assert.rejects(
    // @ts-expect-error: the type requires it; JavaScript callers and `as` casts can still omit it
    client.createDevice(request),
    NoReservationProvidedError,
  );
  await assert.rejects(client.createDevice({ ...request, hardware_reservation_id: "" }), NoReservationProvidedError);
  assert.equal(requests(sim), 0);
  assert.equal(await count(client.metrics, METRIC_NAMES.errors, { kind: "no_reservation" }), 2);
});

simTest("createSSHKey is idempotent by label; the same label with another key is a conflict", async (sim) => {
  using client = clientFor(sim);
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl drover";
  const first = await client.createSSHKey({ label: "drover", key });
  const again = await client.createSSHKey({ label: "drover", key });
  assert.equal(again.id, first.id);
  assert.equal(sim.stats.byOperation.createProjectSSHKey, 1);
  const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHhZ4bHBs0a8m4pIqJ+ve2YJJ0sAQ7nbw1ZykVT1wq2w other";
  const conflict = await client.createSSHKey({ label: "drover", key: other }).catch((e) => e);
  assert.ok(conflict instanceof SSHKeyLabelConflictError, String(conflict));
  assert.equal(conflict.label, "drover");
  assert.equal(conflict.existingKeyId, first.id);
  const keys = await client.listSSHKeys();
  assert.deepEqual(keys.filter((k) => k.label === "drover").map((k) => k.id), [first.id]);
});

simTest("createSSHKey: a lost reply still leaves one key, the one returned", async (sim) => {
  using client = clientFor(sim, { requestTimeoutMs: 300 });
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl lost";
  sim.faults.loseNextReply("createProjectSSHKey");
  const created = await client.createSSHKey({ label: "lost", key });
  const keys = (await client.listSSHKeys()).filter((k) => k.label === "lost");
  assert.deepEqual(keys.map((k) => k.id), [created.id]);
});

simTest("updateSSHKey and deleteSSHKey change the key; deleting it twice succeeds", async (sim) => {
  using client = clientFor(sim);
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl upd";
  const created = await client.createSSHKey({ label: "before", key });
  const updated = await client.updateSSHKey(created.id, { label: "after" });
  assert.equal(updated.label, "after");
  await client.deleteSSHKey(created.id);
  await client.deleteSSHKey(created.id);
  assert.equal((await client.listSSHKeys()).length, 0);
});

simTest("listReservations pages through 1,000+ reservations, each once", async (sim) => {
  using client = clientFor(sim, { apiRate: 1, pageSize: 100 });
  sim.fleet.addReservations(1_000);
  const reservations = await client.listReservations();
  assert.equal(reservations.length, 1_000 + 3);
  assert.equal(new Set(reservations.map((r) => r.id)).size, 1_003, "all distinct");
  assert.equal(sim.stats.byOperation.findProjectHardwareReservations, 11);
  assert.ok(sim.exchanges.every((e) => e.url.includes("per_page=100")));
}, { reservations: 3 });

Deno.test("listReservations resumes at the page that failed", async () => {
  let armed = true;
  await using sim = await startCheckedSimulator({
    reservations: 5,
    onExchange: (exchange) => {
      // The request after the first page fails once.
      if (armed && exchange.status === 200) {
        armed = false;
        sim.faults.failNext(1, { status: 502 });
      }
    },
  });
  using client = clientFor(sim, { apiRate: 1, pageSize: 2 });
  const reservations = await client.listReservations();
  assert.equal(reservations.length, 5);
  const pages = sim.exchanges.map((e) => `${new URL(e.url, sim.origin).searchParams.get("page")}:${e.status}`);
  assert.deepEqual(pages, ["1:200", "2:502", "2:200", "3:200"]);
});

simTest("listDevices returns every device across pages", async (sim) => {
  using client = clientFor(sim, { apiRate: 1, pageSize: 1 });
  const created = [
    await client.createDevice(createRequest(sim, 0)),
    await client.createDevice(createRequest(sim, 1)),
    await client.createDevice(createRequest(sim, 2)),
  ];
  const devices = await client.listDevices();
  assert.deepEqual(devices.map((d) => d.id).sort(), created.map((d) => d.id).sort());
  assert.equal(sim.stats.byOperation.findProjectDevices, 3);
}, { reservations: 3 });

simTest("getDevice, rebootDevice, and deleteDevice twice (the second finds it gone) all succeed", async (sim) => {
  using client = clientFor(sim);
  const created = await client.createDevice(createRequest(sim));
  await sim.fleet.waitForState(created.id, "active");
  const device = await client.getDevice(created.id);
  assert.equal(device.state, "active");
  await client.rebootDevice(device.id);
  assert.notEqual(sim.fleet.device(device.id)?.state, "active", "the reboot started");
  await sim.fleet.waitForState(device.id, "active");
  assert.equal(sim.fleet.machine(device.id)?.boots, 2);
  await client.deleteDevice(device.id);
  await sim.fleet.waitForState(device.id, "deleted");
  await client.deleteDevice(device.id);
  assert.deepEqual(sim.exchanges.filter((e) => e.operationId === "deleteDevice").map((e) => e.status), [204, 404]);
}, { timing: { queuedMs: 5, provisioningMs: 5, rebootMs: 10, deprovisionMs: 5 } });

simTest("deleteDevice after a lost reply: the retry's 404 counts as deleted", async (sim) => {
  using client = clientFor(sim, { requestTimeoutMs: 300 });
  const created = await client.createDevice(createRequest(sim));
  sim.faults.loseNextReply("deleteDevice");
  await client.deleteDevice(created.id);
  assert.equal(sim.stats.byOperation.deleteDevice, 2);
}, { timing: { deprovisionMs: 1 } });

Deno.test("a 2xx reply of the wrong shape is MalformedReplyError, not retried", async () => {
  // The simulator always conforms, so a tiny server gives the bad reply.
  let hits = 0;
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    hits++;
    return Response.json({ id: crypto.randomUUID(), state: "exploded", tags: "not-a-list" });
  });
  using client = new EquinixClient({
    ...FAST,
    baseUrl: `http://127.0.0.1:${server.addr.port}/metal/v1`,
    token: "t",
    projectId: crypto.randomUUID(),
  });
  const error = await client.getDevice(crypto.randomUUID()).catch((e) => e);
  assert.ok(error instanceof MalformedReplyError, String(error));
  assert.equal(error.status, 200);
  assert.deepEqual(error.issues.map((i) => i.path).sort(), ["state", "tags"]);
  assert.ok(error.message.includes("state"), error.message);
  assert.equal(hits, 1);
  assert.equal(await count(client.metrics, METRIC_NAMES.errors, { operation: "getDevice", kind: "malformed" }), 1);
});

simTest("metrics count calls, errors by kind and requests by outcome, on a shared registry", async (sim) => {
  const registry = new Registry();
  using a = clientFor(sim, { registry });
  using b = clientFor(sim, { registry });
  assert.equal(a.metrics, registry);

  await a.listSSHKeys(); // ok
  sim.faults.failNext(2, { status: 500 });
  await b.listSSHKeys(); // two 5xx, then ok
  await a.getDevice(crypto.randomUUID()).catch(() => {}); // 404
  sim.faults.rateLimitNext(1, 0);
  await b.listReservations(); // 429, then ok

  const calls = (labels: Record<string, string>) => count(registry, METRIC_NAMES.calls, labels);
  const errors = (labels: Record<string, string>) => count(registry, METRIC_NAMES.errors, labels);
  const requests = (labels: Record<string, string>) => count(registry, METRIC_NAMES.requests, labels);
  assert.equal(await calls({ operation: "listSSHKeys" }), 2);
  assert.equal(await calls({ operation: "getDevice" }), 1);
  assert.equal(await calls({ operation: "listReservations" }), 1);
  assert.equal(await errors({ operation: "getDevice", kind: "api" }), 1);
  assert.equal(await errors({}), 1, "no other errors");
  assert.equal(await requests({ operation: "listSSHKeys", outcome: "ok" }), 2);
  assert.equal(await requests({ operation: "listSSHKeys", outcome: "5xx" }), 2);
  assert.equal(await requests({ operation: "getDevice", outcome: "4xx" }), 1);
  assert.equal(await requests({ operation: "listReservations", outcome: "429" }), 1);
  assert.equal(await requests({ operation: "listReservations", outcome: "ok" }), 1);
  assert.equal(await requests({}), sim.stats.requests, "every request the simulator saw is counted once");

  const text = await registry.getSingleMetricAsString(METRIC_NAMES.duration);
  assert.match(text, /drover_equinix_call_duration_seconds_count\{operation="listSSHKeys"\} 2/);
});

simTest("close() rejects the queued calls and the one in flight, and every later call", async (sim) => {
  const client = clientFor(sim, { apiRate: 0 });
  sim.faults.set({ latencyMs: 10_000 });
  const inFlight = client.listSSHKeys();
  const queued = client.listDevices();
  await waitFor(() => requests(sim) === 1, { what: "the first request to arrive" });
  const settled = Promise.allSettled([inFlight, queued]);
  client.close();
  for (const result of await settled) {
    assert.ok(result.status === "rejected" && result.reason instanceof ClientClosedError, String(result));
  }
  await assert.rejects(client.listReservations(), ClientClosedError);
  assert.equal(requests(sim), 1);
  assert.equal(await count(client.metrics, METRIC_NAMES.errors, { kind: "closed" }), 3);
});

Deno.test("bad options and arguments throw TypeError or RangeError naming them, before any request", async () => {
  const base = { baseUrl: "http://127.0.0.1:9/metal/v1", token: "t", projectId: crypto.randomUUID() };
  const bad: [Partial<EquinixClientOptions>, ErrorConstructor, RegExp][] = [
    [{ apiRate: -1 }, RangeError, /apiRate must be >= 0/],
    [{ pageSize: 1001 }, RangeError, /pageSize must be between 1 and 1000/],
    [{ pageSize: 2.5 }, RangeError, /pageSize must be an integer/],
    [{ requestTimeoutMs: 0 }, RangeError, /requestTimeoutMs/],
    [{ maxBackoffMs: 1, initialBackoffMs: 10 }, RangeError, /maxBackoffMs must be >= 10/],
    [{ projectId: "nope" }, RangeError, /projectId must be a UUID/],
    [{ baseUrl: "ftp://example.com" }, TypeError, /baseUrl must be http\(s\)/],
    [{ token: "" }, TypeError, /token must be a non-empty string/],
    // deno-lint-ignore no-explicit-any -- a JavaScript caller's wrong type
    [{ apiRate: "fast" as any }, TypeError, /apiRate must be a number/],
  ];
  for (const [options, type, message] of bad) {
    assert.throws(
      () => new EquinixClient({ ...base, ...options }),
      (e) => e instanceof type && message.test(e.message),
    );
  }
  using client = new EquinixClient(base);
  await assert.rejects(client.getDevice(""), { name: "RangeError", message: /getDevice: id must be a UUID/ });
  await assert.rejects(client.deleteDevice("abc"), { name: "RangeError", message: /deleteDevice: id must be a UUID/ });
  // deno-lint-ignore no-explicit-any -- a JavaScript caller's wrong type
  await assert.rejects(client.rebootDevice(42 as any), {
    name: "TypeError",
    message: /rebootDevice: id must be a string/,
  });
  await assert.rejects(client.createSSHKey({ label: "", key: "k" }), { name: "RangeError", message: /request\.label/ });
  await assert.rejects(
    client.createDevice({ hardware_reservation_id: "x", metro: "sv", plan: "p", operating_system: OS }),
    { name: "RangeError", message: /hardware_reservation_id must be a UUID/ },
  );
  assert.equal(await count(client.metrics, METRIC_NAMES.calls, {}), 0, "nothing was called");
});
