/**
 * The BMC simulator against DMTF's Redfish JSON Schemas
 * (`redfish/reference/json-schema/`, loaded by tests/harness/redfish_schemas.ts):
 * every kind of reply it gives (each resource in each state it can show,
 * sessions, tasks, the Reset's replies, and each kind of error) must
 * validate against its schema, with the `@odata.type` of that schema's
 * version; each error's messages also validate one by one as Messages.
 * The loader itself is shown to fail on a body that does not conform.
 *
 * One deliberate departure is checked exactly: a BMC with `auth: "basic"`
 * has no SessionService, so its service root lacks `Links.Sessions`, which
 * ServiceRoot's schema requires.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type BmcSimulator, RESET_TYPES, startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { loadRedfishSchemas, REDFISH_KINDS, type RedfishKind } from "../harness/redfish_schemas.ts";

const MOCKUP = new URL("../../redfish/reference/mockup-rackmount1/", import.meta.url);

/** A reply as read. */
interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any -- the tests read whatever the reply holds; the schemas check its shape
  body: any;
}

/** Calls the simulator, with HTTP Basic unless `headers` says otherwise; the body is always read. */
async function call(
  sim: BmcSimulator,
  method: string,
  path: string,
  { body, headers }: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const response = await fetch(sim.url + path, {
    method,
    headers: headers ?? { Authorization: `Basic ${btoa(`${sim.username}:${sim.password}`)}` },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
}

async function readMockup(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await Deno.readTextFile(new URL(`${path}/index.json`, MOCKUP)));
}

Deno.test("the schema loader accepts DMTF's mockup and refuses a system whose PowerState is not an enum value", async () => {
  const schemas = await loadRedfishSchemas();
  assert.ok(schemas.loaded.files.includes("ComputerSystem.v1_27_0.json"));
  assert.ok(schemas.loaded.standIns.length > 0, "refs to schemas not present get stand-ins");
  const system = await readMockup("Systems/437XR1138R2");
  assert.deepEqual(schemas.validate("ComputerSystem", system), []);
  assert.deepEqual(schemas.validate("ServiceRoot", await readMockup(".")), []);
  assert.deepEqual(schemas.validate("Manager", await readMockup("Managers/BMC")), []);

  const maybe = schemas.validate("ComputerSystem", { ...system, PowerState: "Maybe" });
  assert.ok(
    maybe.some((p) => p.startsWith("/PowerState must be equal to one of the allowed values")),
    maybe.join("\n"),
  );
  const unknownProperty = schemas.validate("ComputerSystem", { ...system, PowerStat: "On" });
  assert.ok(unknownProperty.some((p) => p.includes("must NOT have additional properties: PowerStat")));
  const wrongType = schemas.validate("ComputerSystem", {
    ...system,
    "@odata.type": "#ComputerSystem.v1_0_0.ComputerSystem",
  });
  assert.deepEqual(wrongType, [
    '/@odata.type must be "#ComputerSystem.v1_27_0.ComputerSystem": current value is "#ComputerSystem.v1_0_0.ComputerSystem"',
  ]);
  assert.ok(schemas.validate("RedfishError", { error: { code: "Base.1.19.GeneralError" } }).length > 0);
  assert.ok(schemas.validate("Message", { Message: "no MessageId" }).length > 0);
});

Deno.test("every kind of reply the simulator gives validates against its DMTF schema", async () => {
  const schemas = await loadRedfishSchemas();
  await using sim = await startBmcSimulator({
    maxSessions: 1,
    systems: [
      { resetReply: "202", transitionMs: 60_000, resetTypes: [...RESET_TYPES] },
      { resetReply: "200", powerState: "Off", redundantReset: "conflict", reportsLastResetTime: false },
      { transitionMs: 60_000 },
    ],
  });
  const covered = new Set<RedfishKind>();
  const problems: string[] = [];
  /** Checks `reply` is `status` with a body of `kind` (an error body's messages too), and the headers every reply has. */
  const expect = (what: string, reply: Reply, status: number, kind: RedfishKind) => {
    assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
    assert.equal(reply.headers.get("OData-Version"), "4.0", what);
    assert.match(reply.headers.get("Content-Type") ?? "", /^application\/json/, what);
    covered.add(kind);
    for (const problem of schemas.validate(kind, reply.body)) problems.push(`${what} (${kind}): ${problem}`);
    const messages = kind === "RedfishError" ? reply.body?.error?.["@Message.ExtendedInfo"] : undefined;
    for (const message of messages ?? []) {
      covered.add("Message");
      for (const problem of schemas.validate("Message", message)) problems.push(`${what} (Message): ${problem}`);
    }
    return reply;
  };
  const get = async (path: string, kind: RedfishKind, status = 200) =>
    expect(`GET ${path}`, await call(sim, "GET", path), status, kind);
  const post = async (
    path: string,
    body: unknown,
    kind: RedfishKind,
    status: number,
    headers?: Record<string, string>,
  ) =>
    expect(
      `POST ${path} ${typeof body === "string" ? body : JSON.stringify(body)}`,
      await call(sim, "POST", path, { body, headers }),
      status,
      kind,
    );
  const resetPath = (id: string) => `/redfish/v1/Systems/${id}/Actions/ComputerSystem.Reset`;
  const reset = (id: string, body: unknown, kind: RedfishKind, status: number) =>
    post(resetPath(id), body, kind, status);

  // The service root needs no credentials; /redfish names it.
  expect("GET /redfish/v1/", await call(sim, "GET", "/redfish/v1/", { headers: {} }), 200, "ServiceRoot");
  assert.deepEqual((await call(sim, "GET", "/redfish", { headers: {} })).body, { v1: "/redfish/v1/" });

  // Resources, the systems in each state they can show.
  await get("/redfish/v1/Systems", "ComputerSystemCollection");
  await get("/redfish/v1/Systems/1", "ComputerSystem"); // On
  await get("/redfish/v1/Systems/2", "ComputerSystem"); // Off, no LastResetTime
  sim.system("3").health = "Critical";
  assert.equal((await call(sim, "POST", resetPath("3"), { body: { ResetType: "GracefulShutdown" } })).status, 204);
  await get("/redfish/v1/Systems/3", "ComputerSystem"); // PoweringOff, Critical
  sim.system("3").setPower("Off");
  assert.equal((await call(sim, "POST", resetPath("3"), { body: { ResetType: "On" } })).status, 204);
  await get("/redfish/v1/Systems/3", "ComputerSystem"); // PoweringOn
  await get("/redfish/v1/Managers", "ManagerCollection");
  await get("/redfish/v1/Managers/BMC", "Manager");
  await get("/redfish/v1/TaskService", "TaskService");
  await get("/redfish/v1/SessionService", "SessionService");
  await get("/redfish/v1/SessionService/Sessions", "SessionCollection"); // empty

  // Sessions: created, read, listed; the limit; bad requests.
  const sessions = "/redfish/v1/SessionService/Sessions";
  const created = await post(sessions, { UserName: sim.username, Password: sim.password }, "Session", 201, {});
  await get(created.headers.get("Location") ?? "", "Session");
  await get(sessions, "SessionCollection");
  await post(sessions, { UserName: sim.username, Password: sim.password }, "RedfishError", 503, {}); // SessionLimitExceeded
  await post(sessions, { UserName: sim.username, Password: "wrong" }, "RedfishError", 401, {});
  await post(sessions, { UserName: sim.username }, "RedfishError", 400, {}); // PropertyMissing
  await post(sessions, { UserName: sim.username, Password: 7 }, "RedfishError", 400, {}); // PropertyValueTypeError

  // The Reset's replies: 202 with a Task, the task monitor's 202, a Task running, then cancelled; 200's body.
  const accepted = await reset("1", { ResetType: "GracefulShutdown" }, "Task", 202);
  const monitor = accepted.headers.get("Location") ?? "";
  await get(monitor, "Task", 202);
  await get(accepted.body["@odata.id"], "Task"); // Running
  await get("/redfish/v1/TaskService/Tasks", "TaskCollection");
  await reset("1", { ResetType: "ForceOff" }, "Task", 202); // cuts the first one short
  await get(accepted.body["@odata.id"], "Task"); // Cancelled
  await reset("1", { ResetType: "Nmi" }, "Task", 202); // nothing to wait for: Completed at once
  await get("/redfish/v1/TaskService/Tasks/3", "Task");
  const success = await call(sim, "POST", resetPath("2"), { body: { ResetType: "On" } });
  assert.equal(success.status, 200);
  for (const message of success.body["@Message.ExtendedInfo"]) {
    covered.add("Message");
    for (const problem of schemas.validate("Message", message)) problems.push(`200 Reset body (Message): ${problem}`);
  }

  // Each kind of error.
  expect("no credentials", await call(sim, "GET", "/redfish/v1/Systems", { headers: {} }), 401, "RedfishError");
  expect(
    "a dead token",
    await call(sim, "GET", "/redfish/v1/Systems", { headers: { "X-Auth-Token": "x" } }),
    401,
    "RedfishError",
  );
  expect(
    "wrong Basic credentials",
    await call(sim, "GET", "/redfish/v1/Systems", { headers: { Authorization: `Basic ${btoa("admin:nope")}` } }),
    401,
    "RedfishError",
  );
  await get("/redfish/v1/Chassis", "RedfishError", 404);
  await get("/redfish/v1/Systems/9", "RedfishError", 404);
  await get("/redfish/v1/TaskService/Tasks/99", "RedfishError", 404);
  expect("DELETE a system", await call(sim, "DELETE", "/redfish/v1/Systems/1"), 405, "RedfishError");
  await reset("1", "{not json", "RedfishError", 400); // MalformedJSON
  await reset("1", {}, "RedfishError", 400); // ActionParameterMissing
  await reset("1", { ResetType: "Explode" }, "RedfishError", 400); // ActionParameterValueNotInList
  await reset("1", { ResetType: 3 }, "RedfishError", 400); // ActionParameterValueTypeError
  await reset("2", { ResetType: "On" }, "RedfishError", 409); // already On, conflict
  sim.faults.errorRate = 1;
  await get("/redfish/v1/Systems", "RedfishError", 500);
  sim.faults.errorRate = 0;
  sim.faults.unavailable = { count: 1, retryAfterSeconds: 3 };
  await get("/redfish/v1/Systems", "RedfishError", 503);

  // Deleting the session answers 204 without a body.
  const deleted = await call(sim, "DELETE", created.headers.get("Location") ?? "");
  assert.equal(deleted.status, 204);
  assert.equal(deleted.body, undefined);

  assert.deepEqual(problems, []);
  assert.deepEqual([...covered].sort(), [...REDFISH_KINDS].sort(), "every kind the schemas know was checked");
});

Deno.test('a BMC with auth "basic" serves the same resources; its root lacks only Links.Sessions', async () => {
  const schemas = await loadRedfishSchemas();
  await using sim = await startBmcSimulator({ auth: "basic" });
  const root = await call(sim, "GET", "/redfish/v1/", { headers: {} });
  assert.equal(root.status, 200);
  assert.equal(root.body.SessionService, undefined);
  assert.deepEqual(schemas.validate("ServiceRoot", root.body), ["/Links must have required property 'Sessions'"]);
  assert.deepEqual(schemas.validate("ServiceRoot", { ...root.body, Links: { Sessions: { "@odata.id": "/x" } } }), []);
  const system = await call(sim, "GET", "/redfish/v1/Systems/1");
  assert.deepEqual(schemas.validate("ComputerSystem", system.body), []);
  const noSessions = await call(sim, "GET", "/redfish/v1/SessionService");
  assert.equal(noSessions.status, 404);
  assert.deepEqual(schemas.validate("RedfishError", noSessions.body), []);
});
