/**
 * The simulator against the official Metal OpenAPI file: every operation it
 * serves, with a success and with each error status it can give, must reply
 * as the file declares (and parse with the zod schemas the client uses);
 * requests the real API would refuse are refused the same way and change
 * nothing; and the check itself is shown to fail on a reply that does not
 * conform.
 *
 * Statuses the file does not declare (429 and 5xx are declared nowhere; a
 * few 404/422 are missing for some operations) are checked as documented in
 * tests/harness/simulator.ts: a fault's reply, or one listed in
 * UNDECLARED_BY_DESIGN, must have a body that matches components/schemas/
 * Error; any other undeclared status is a problem.
 *
 * @module
 */
import assert from "node:assert/strict";
import { AssertionError } from "node:assert";
import { z } from "zod";
import {
  DeviceListSchema,
  DeviceSchema,
  ErrorBodySchema,
  HardwareReservationListSchema,
  HardwareReservationSchema,
  MetaSchema,
  ProjectSchema,
  SSHKeyListSchema,
  SSHKeySchema,
} from "../../equinix/schemas.ts";
import { type Exchange, OPERATION_IDS, type OperationId } from "../../equinix/simulator/mod.ts";
import { metalFetch, type MetalFetchOptions } from "../harness/metal_fetch.ts";
import { loadMetalOpenApi } from "../harness/openapi.ts";
import {
  type CheckedSimulator,
  exchangeProblems,
  startCheckedSimulator,
  UNDECLARED_BY_DESIGN,
} from "../harness/simulator.ts";

const FAST = { queuedMs: 20, provisioningMs: 30, rebootMs: 40, deprovisionMs: 20 };
const OS = "ubuntu_22_04";
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl drover";

/** The zod schema (equinix/schemas.ts) the client parses each operation's success reply with. */
const SUCCESS_SCHEMAS: Record<OperationId, z.ZodType | undefined> = {
  // equinix/schemas.ts has no ProjectList (the client reads one project by id); its shape is checked here.
  findProjects: z.object({ projects: ProjectSchema.array(), meta: MetaSchema }),
  findProjectById: ProjectSchema,
  findProjectDevices: DeviceListSchema,
  createDevice: DeviceSchema,
  findDeviceById: DeviceSchema,
  deleteDevice: undefined,
  performAction: undefined,
  findProjectHardwareReservations: HardwareReservationListSchema,
  findHardwareReservationById: HardwareReservationSchema,
  findProjectSSHKeys: SSHKeyListSchema,
  createProjectSSHKey: SSHKeySchema,
  findSSHKeyById: SSHKeySchema,
  updateSSHKey: SSHKeySchema,
  deleteSSHKey: undefined,
};

/** One call: method, path under /metal/v1, body. */
interface Call {
  method: string;
  path: string;
  body?: unknown;
}

async function expectStatus(sim: CheckedSimulator, call: Call, status: number, options: MetalFetchOptions = {}) {
  const reply = await metalFetch(sim, call.method, call.path, { body: call.body, ...options });
  assert.equal(reply.status, status, `${call.method} ${call.path} → ${JSON.stringify(reply.body)}`);
  return reply;
}

/** 401, 429 (with Retry-After) and 503 for `call`, none of which may change anything. */
async function expectAuthAndFaults(sim: CheckedSimulator, operationId: OperationId, call: Call) {
  await expectStatus(sim, call, 401, { token: "wrong" });
  sim.faults.rateLimitNext(1, 1, { operationId });
  const limited = await expectStatus(sim, call, 429);
  assert.equal(limited.headers.get("retry-after"), "1");
  sim.faults.failNext(1, { operationId });
  await expectStatus(sim, call, 503);
}

Deno.test("every served operation conforms to the OpenAPI file, with a success and each error it can give", async () => {
  await using sim = await startCheckedSimulator({ timing: FAST, reservations: 5, metros: ["sv"] });
  const project = `/projects/${sim.projectId}`;
  const unknown = crypto.randomUUID();
  const [r1, r2, r3] = sim.fleet.reservations();
  const deviceBody = (reservationId: string, extra: Record<string, unknown> = {}) => ({
    metro: "sv",
    plan: "c3.small.x86",
    operating_system: OS,
    hardware_reservation_id: reservationId,
    hostname: "conformance",
    tags: ["drover"],
    ...extra,
  });

  // createDevice
  const create = { method: "POST", path: `${project}/devices`, body: deviceBody(r1.id) };
  const device = (await expectStatus(sim, create, 201)).body;
  await expectAuthAndFaults(sim, "createDevice", { ...create, body: deviceBody(r2.id) });
  await expectStatus(sim, { ...create, path: `/projects/${unknown}/devices` }, 404);
  await expectStatus(sim, create, 422); // r1 is taken
  await expectStatus(sim, { ...create, body: deviceBody(r3.id, { tags: 3 }) }, 422);
  assert.equal(sim.fleet.devices().length, 1, "only the first create changed anything");
  await sim.fleet.waitForState(device.id, "active", AbortSignal.timeout(5_000));

  // createProjectSSHKey
  const createKey = { method: "POST", path: `${project}/ssh-keys`, body: { label: "drover", key: SSH_KEY } };
  const key = (await expectStatus(sim, createKey, 201)).body;
  await expectAuthAndFaults(sim, "createProjectSSHKey", createKey);
  await expectStatus(sim, { ...createKey, path: `/projects/${unknown}/ssh-keys` }, 404);
  await expectStatus(sim, { ...createKey, body: { label: "drover" } }, 422);

  const reads: [OperationId, Call, Call | undefined][] = [
    ["findProjects", { method: "GET", path: "/projects" }, undefined],
    ["findProjectById", { method: "GET", path: project }, { method: "GET", path: `/projects/${unknown}` }],
    [
      "findProjectDevices",
      { method: "GET", path: `${project}/devices?include=hardware_reservation` },
      { method: "GET", path: `/projects/${unknown}/devices` },
    ],
    [
      "findDeviceById",
      { method: "GET", path: `/devices/${device.id}?include=hardware_reservation` },
      { method: "GET", path: `/devices/${unknown}` },
    ],
    [
      "findProjectHardwareReservations",
      { method: "GET", path: `${project}/hardware-reservations?include=device&per_page=2&page=1` },
      { method: "GET", path: `/projects/${unknown}/hardware-reservations` },
    ],
    [
      "findHardwareReservationById",
      { method: "GET", path: `/hardware-reservations/${r1.id}?include=device` },
      { method: "GET", path: `/hardware-reservations/${unknown}` },
    ],
    ["findProjectSSHKeys", { method: "GET", path: `${project}/ssh-keys` }, {
      method: "GET",
      path: `/projects/${unknown}/ssh-keys`,
    }],
    ["findSSHKeyById", { method: "GET", path: `/ssh-keys/${key.id}` }, { method: "GET", path: `/ssh-keys/${unknown}` }],
  ];
  for (const [operationId, ok, notFound] of reads) {
    await expectStatus(sim, ok, 200);
    await expectAuthAndFaults(sim, operationId, ok);
    if (notFound) await expectStatus(sim, notFound, 404);
  }
  for (const list of ["/projects", `${project}/devices`, `${project}/hardware-reservations`]) {
    await expectStatus(sim, { method: "GET", path: `${list}?per_page=1001` }, 422);
  }

  // updateSSHKey
  const update = { method: "PUT", path: `/ssh-keys/${key.id}`, body: { label: "renamed", tags: ["a"] } };
  assert.equal((await expectStatus(sim, update, 200)).body.label, "renamed");
  await expectAuthAndFaults(sim, "updateSSHKey", update);
  await expectStatus(sim, { ...update, path: `/ssh-keys/${unknown}` }, 404);
  await expectStatus(sim, { ...update, body: { label: 7 } }, 422);

  // performAction
  const reboot = { method: "POST", path: `/devices/${device.id}/actions`, body: { type: "reboot" } };
  await expectAuthAndFaults(sim, "performAction", reboot);
  await expectStatus(sim, reboot, 202);
  await expectStatus(sim, { ...reboot, path: `/devices/${unknown}/actions` }, 404);
  await expectStatus(sim, reboot, 422); // not active any more
  await expectStatus(sim, { ...reboot, body: {} }, 422);

  // A lost reply is checked too: it is what the client would have got.
  sim.faults.loseNextReply("findDeviceById");
  await assert.rejects(
    metalFetch(sim, "GET", `/devices/${device.id}`, { signal: AbortSignal.timeout(200) }),
    (error: Error) => error.name === "TimeoutError",
  );
  // A standing 5xx rate gives 500.
  sim.faults.set({ serverErrorRate: 1 });
  await expectStatus(sim, { method: "GET", path: "/projects" }, 500);
  sim.faults.set({ serverErrorRate: 0 });

  // deleteDevice, deleteSSHKey
  const deleteDevice = { method: "DELETE", path: `/devices/${device.id}` };
  await expectAuthAndFaults(sim, "deleteDevice", deleteDevice);
  await expectStatus(sim, deleteDevice, 204);
  await expectStatus(sim, { ...deleteDevice, path: `/devices/${unknown}` }, 404);
  const deleteKey = { method: "DELETE", path: `/ssh-keys/${key.id}` };
  await expectAuthAndFaults(sim, "deleteSSHKey", deleteKey);
  await expectStatus(sim, deleteKey, 204);
  await expectStatus(sim, deleteKey, 404);

  // Coverage: every operation with a success and an error, and exactly the statuses expected.
  const statuses = new Map<string, Set<number>>();
  for (const e of sim.exchanges) statuses.set(e.operationId, (statuses.get(e.operationId) ?? new Set()).add(e.status));
  const seen = Object.fromEntries([...statuses].map(([op, set]) => [op, [...set].sort()]));
  const faulted = [401, 429, 503];
  assert.deepEqual(seen, {
    createDevice: [201, 404, 422, ...faulted].sort(),
    createProjectSSHKey: [201, 404, 422, ...faulted].sort(),
    findProjects: [200, 422, 500, ...faulted].sort(),
    findProjectById: [200, 404, ...faulted].sort(),
    findProjectDevices: [200, 404, 422, ...faulted].sort(),
    findDeviceById: [200, 404, ...faulted].sort(),
    findProjectHardwareReservations: [200, 404, 422, ...faulted].sort(),
    findHardwareReservationById: [200, 404, ...faulted].sort(),
    findProjectSSHKeys: [200, 404, ...faulted].sort(),
    findSSHKeyById: [200, 404, ...faulted].sort(),
    updateSSHKey: [200, 404, 422, ...faulted].sort(),
    performAction: [202, 404, 422, ...faulted].sort(),
    deleteDevice: [204, 404, ...faulted].sort(),
    deleteSSHKey: [204, 404, ...faulted].sort(),
  });
  for (const operationId of OPERATION_IDS) {
    const set = [...statuses.get(operationId) ?? []];
    assert.ok(set.some((s) => s < 300) && set.some((s) => s >= 400), `${operationId}: a success and an error`);
  }

  // Every reply conforms to the OpenAPI file (close() would throw too), and parses with the client's zod schemas.
  assert.deepEqual(sim.conformanceProblems(), []);
  for (const exchange of sim.exchanges) assertParsesWithClientSchemas(exchange);

  // The undeclared statuses that are not faults are exactly the documented ones.
  const api = await loadMetalOpenApi();
  const undeclared = new Set(
    sim.exchanges
      .filter((e) => !e.fault && !api.operation(e.operationId).statuses.includes(String(e.status)))
      .map((e) => `${e.operationId} ${e.status}`),
  );
  assert.deepEqual([...undeclared].sort(), [...UNDECLARED_BY_DESIGN.keys()].sort());
});

/** A success reply parses with the operation's zod schema; an error reply is `{"errors": [string, …]}`. */
function assertParsesWithClientSchemas(exchange: Exchange): void {
  const where = `${exchange.method} ${exchange.url} → ${exchange.status}`;
  if (exchange.status >= 400) {
    const body = ErrorBodySchema.parse(exchange.responseBody);
    assert.ok(body.errors && body.errors.length > 0 && body.error === undefined, `${where}: errors, not error`);
    return;
  }
  const schema = SUCCESS_SCHEMAS[exchange.operationId as OperationId];
  if (!schema) return assert.equal(exchange.responseBody, undefined, `${where}: no body`);
  const result = schema.safeParse(exchange.responseBody);
  assert.ok(result.success, `${where}: ${result.error?.message}`);
}

Deno.test("requests the real API would refuse get 422 in the API's error format and change nothing", async () => {
  await using sim = await startCheckedSimulator({ timing: FAST, metros: ["sv"] });
  const api = await loadMetalOpenApi();
  const project = `/projects/${sim.projectId}`;
  const reservation = sim.fleet.reservations()[0].id;
  const valid = { metro: "sv", plan: "c3.small.x86", operating_system: OS, hardware_reservation_id: reservation };
  const without = (field: string) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== field));
  const key =
    (await expectStatus(sim, { method: "POST", path: `${project}/ssh-keys`, body: { label: "k", key: SSH_KEY } }, 201))
      .body;
  const device = (await expectStatus(sim, { method: "POST", path: `${project}/devices`, body: valid }, 201)).body;
  await sim.fleet.waitForState(device.id, "active", AbortSignal.timeout(5_000));

  const before = async () => ({
    devices: sim.fleet.devices(),
    reservations: sim.fleet.reservations(),
    keys: (await metalFetch(sim, "GET", `${project}/ssh-keys`)).body,
  });
  const snapshot = await before();

  /** [what, operationId, call, the field the error names, does the OpenAPI file refuse it too?] */
  const refused: [string, OperationId, Call, string, boolean][] = [
    [
      "missing metro",
      "createDevice",
      { method: "POST", path: `${project}/devices`, body: without("metro") },
      "metro",
      true,
    ],
    [
      "missing plan",
      "createDevice",
      { method: "POST", path: `${project}/devices`, body: without("plan") },
      "plan",
      true,
    ],
    [
      "missing operating_system",
      "createDevice",
      { method: "POST", path: `${project}/devices`, body: without("operating_system") },
      "operating_system",
      true,
    ],
    [
      "tags as a number",
      "createDevice",
      { method: "POST", path: `${project}/devices`, body: { ...valid, tags: 3 } },
      "tags",
      true,
    ],
    [
      "a tag that is not a string",
      "createDevice",
      { method: "POST", path: `${project}/devices`, body: { ...valid, tags: ["a", 1] } },
      "tags[1]",
      true,
    ],
    [
      "malformed JSON",
      "createDevice",
      { method: "POST", path: `${project}/devices`, body: '{"metro": "sv",' },
      "(body)",
      false,
    ],
    [
      "a body that is an array",
      "createDevice",
      { method: "POST", path: `${project}/devices`, body: [] },
      "(body)",
      true,
    ],
    [
      "action without type",
      "performAction",
      { method: "POST", path: `/devices/${device.id}/actions`, body: {} },
      "type",
      true,
    ],
    [
      "action of an unknown type",
      "performAction",
      { method: "POST", path: `/devices/${device.id}/actions`, body: { type: "explode" } },
      "type",
      true,
    ],
    [
      "malformed JSON action",
      "performAction",
      { method: "POST", path: `/devices/${device.id}/actions`, body: "type=reboot" },
      "(body)",
      false,
    ],
    [
      "ssh key without key",
      "createProjectSSHKey",
      { method: "POST", path: `${project}/ssh-keys`, body: { label: "x" } },
      "key",
      false,
    ],
    [
      "ssh key without label",
      "createProjectSSHKey",
      { method: "POST", path: `${project}/ssh-keys`, body: { key: SSH_KEY } },
      "label",
      false,
    ],
    [
      "ssh key with tags as a string",
      "createProjectSSHKey",
      { method: "POST", path: `${project}/ssh-keys`, body: { label: "x", key: SSH_KEY, tags: "a" } },
      "tags",
      true,
    ],
    [
      "ssh key update with an empty label",
      "updateSSHKey",
      { method: "PUT", path: `/ssh-keys/${key.id}`, body: { label: "" } },
      "label",
      false,
    ],
  ];
  for (const [what, operationId, call, field, specRefuses] of refused) {
    const reply = await expectStatus(sim, call, 422);
    assert.equal(reply.headers.get("content-type"), "application/json", what);
    assert.deepEqual(Object.keys(reply.body), ["errors"], what);
    assert.ok(
      reply.body.errors.some((message: string) => message.startsWith(`${field}: `)),
      `${what}: an error names ${field}: ${JSON.stringify(reply.body.errors)}`,
    );
    if (typeof call.body !== "string") {
      const problems = api.validateRequest(operationId, call.body);
      assert.equal(
        problems.length > 0,
        specRefuses,
        `${what}: the OpenAPI file's verdict: ${JSON.stringify(problems)}`,
      );
    }
  }
  assert.deepEqual(await before(), snapshot, "nothing changed");
  assert.equal(sim.fleet.device(device.id)?.state, "active");
});

Deno.test("the check fails on replies that do not conform", async (t) => {
  const api = await loadMetalOpenApi();
  const validDevice = {
    id: crypto.randomUUID(),
    state: "active",
    hostname: "a",
    created_at: new Date().toISOString(),
    project: { href: "/metal/v1/projects/x" },
  };
  const exchange = (overrides: Partial<Exchange>): Exchange => ({
    operationId: "findDeviceById",
    method: "GET",
    pathTemplate: "/devices/{id}",
    url: `/metal/v1/devices/${validDevice.id}`,
    requestBody: undefined,
    status: 200,
    responseBody: validDevice,
    lost: false,
    ...overrides,
  });

  await t.step("a valid device passes", () => {
    assert.deepEqual(exchangeProblems(api, exchange({}), 0), []);
  });
  await t.step('a device with state "bogus" is reported', () => {
    const [problem, ...rest] = exchangeProblems(api, exchange({ responseBody: { ...validDevice, state: "bogus" } }), 4);
    assert.deepEqual(rest, []);
    assert.match(problem, /^#4 GET \/metal\/v1\/devices\/.* → 200 \(findDeviceById\): \/state must be equal to one of/);
  });
  await t.step("wrong types, formats and nested shapes are reported", () => {
    const problems = api.validateResponse("findDeviceById", 200, {
      ...validDevice,
      id: "not-a-uuid",
      tags: "a",
      created_at: "yesterday",
      ip_addresses: [{ address_family: "4" }],
    });
    assert.deepEqual(problems.sort(), [
      '/created_at must match format "date-time"',
      '/id must match format "uuid"',
      "/ip_addresses/0/address_family must be integer",
      "/tags must be array",
    ]);
  });
  await t.step("an undeclared status that is no fault is reported; a fault's is checked as an Error", () => {
    assert.deepEqual(
      exchangeProblems(api, exchange({ status: 422, responseBody: { errors: ["x"] } }), 0).map((p) =>
        p.slice(p.indexOf("): ") + 3)
      ),
      ["status 422 is not declared (declared: 200, 401, 403, 404)"],
    );
    assert.deepEqual(
      exchangeProblems(api, exchange({ status: 503, responseBody: { errors: ["x"] }, fault: "server-error" }), 0),
      [],
    );
    const [problem] = exchangeProblems(
      api,
      exchange({ status: 429, responseBody: { errors: "x" }, fault: "rate-limit" }),
      0,
    );
    assert.match(problem, /Error body: \/errors must be array$/);
  });
  await t.step("a body where none is declared, and none where one is, are reported", () => {
    assert.match(
      exchangeProblems(api, exchange({ operationId: "deleteDevice", method: "DELETE", status: 204 }), 0)[0],
      /status 204 declares no body, but one was sent$/,
    );
    assert.match(
      exchangeProblems(api, exchange({ responseBody: undefined }), 0)[0],
      /declares a JSON body, but none was sent$/,
    );
  });
  await t.step("a request body the file refuses, that got a 2xx, is reported", () => {
    const created = exchange({
      operationId: "createDevice",
      method: "POST",
      status: 201,
      requestBody: { metro: "sv", plan: "x", operating_system: "y", tags: 3 },
    });
    assert.ok(exchangeProblems(api, created, 0).some((p) => p.endsWith("request: /tags must be array")));
  });
  await t.step("close() of a checked simulator throws when a reply did not conform", async () => {
    // The hook changes the recorded reply (a copy: the client got the valid one) as a broken simulator would.
    const sim = await startCheckedSimulator({
      onExchange: (e) => {
        if (e.operationId === "findHardwareReservationById") (e.responseBody as { spare: unknown }).spare = "no";
      },
    });
    const reservation = sim.fleet.reservations()[0];
    const reply = await metalFetch(sim, "GET", `/hardware-reservations/${reservation.id}`);
    assert.equal(reply.body.spare, false, "the wire reply is unchanged");
    await assert.rejects(sim.close(), (error: AssertionError) => {
      assert.ok(error instanceof AssertionError);
      assert.match(error.message, /1 problem\(s\)/);
      assert.match(error.message, /findHardwareReservationById\): \/spare must be boolean/);
      return true;
    });
  });
});
