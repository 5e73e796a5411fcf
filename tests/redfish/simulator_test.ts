/**
 * The Redfish BMC simulator over real HTTP on loopback: the power model and
 * each ResetType, the Reset's replies (204, 200, 202 with a task monitor),
 * refusals, sessions and Basic auth, every fault kind (including a lost
 * reply the client sees as a network error), stats, https, a fleet, and
 * `deno task bmc-sim` as a child process. Reply bodies are checked against
 * DMTF's schemas in conformance_test.ts; here, what the simulator does.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import {
  type BmcSimulator,
  BmcSimulatorClosedError,
  type BmcSimulatorOptions,
  type PowerState,
  RESET_TYPES,
  type ResetType,
  startBmcFleet,
  startBmcSimulator,
  SystemDownError,
  SystemNotRunningError,
} from "../../redfish/simulator/mod.ts";
import { freePort } from "../harness/free_port.ts";
import { aborted, waitFor, within } from "../harness/wait.ts";
import { spawnWatched } from "../harness/watched_process.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const SESSIONS = "/redfish/v1/SessionService/Sessions";

/** A reply as read. */
interface Reply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any -- the tests read whatever the reply holds; conformance_test.ts checks shapes
  body: any;
}

/** Where a BMC is and how to log in: a simulator, or one in another process. */
type Bmc = Pick<BmcSimulator, "url" | "username" | "password">;

function basic(sim: { username: string; password: string }): Record<string, string> {
  return { Authorization: `Basic ${btoa(`${sim.username}:${sim.password}`)}` };
}

/** Calls the simulator, with HTTP Basic unless `headers` says otherwise; the body is always read. */
async function call(
  sim: Bmc,
  method: string,
  path: string,
  { body, headers, signal, client }: {
    body?: unknown;
    headers?: Record<string, string>;
    signal?: AbortSignal;
    client?: Deno.HttpClient;
  } = {},
): Promise<Reply> {
  const response = await fetch(sim.url + path, {
    method,
    headers: headers ?? basic(sim),
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal,
    client,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === "" ? undefined : JSON.parse(text) };
}

function reset(
  sim: Bmc,
  id: string,
  resetType: unknown,
  options: { signal?: AbortSignal; client?: Deno.HttpClient } = {},
): Promise<Reply> {
  return call(sim, "POST", `/redfish/v1/Systems/${id}/Actions/ComputerSystem.Reset`, {
    body: resetType === undefined ? {} : { ResetType: resetType },
    ...options,
  });
}

/** The MessageIds of an error reply. */
function messageIds(reply: Reply): string[] {
  return (reply.body?.error?.["@Message.ExtendedInfo"] ?? []).map((m: { MessageId: string }) => m.MessageId);
}

const soon = () => AbortSignal.timeout(5_000);

function simulatorTest(name: string, options: BmcSimulatorOptions, fn: (sim: BmcSimulator) => Promise<void>): void {
  Deno.test(name, async () => {
    await using sim = await startBmcSimulator(options);
    await fn(sim);
  });
}

simulatorTest(
  "GracefulShutdown takes transitionMs through PoweringOff and aborts the program; On comes back through PoweringOn",
  { systems: [{ transitionMs: 150 }] },
  async (sim) => {
    const system = sim.system("1");
    assert.deepEqual([system.path, system.powerState, system.running, system.boots], [
      "/redfish/v1/Systems/1",
      "On",
      true,
      1,
    ]);
    const program = system.run((signal) => aborted(signal));
    system.health = "Warning";

    const sent = performance.now();
    assert.equal((await reset(sim, "1", "GracefulShutdown")).status, 204);
    assert.equal(system.powerState, "PoweringOff");
    const reason = await program;
    assert.ok(reason instanceof SystemDownError);
    assert.deepEqual([reason.systemId, reason.trigger], ["1", "GracefulShutdown"]);
    const during = (await call(sim, "GET", system.path)).body;
    assert.deepEqual([during.PowerState, during.Status], ["PoweringOff", {
      State: "StandbyOffline",
      Health: "Warning",
    }]);
    await system.waitForPowerState("Off", soon());
    assert.ok(performance.now() - sent >= 140, "PoweringOff lasts transitionMs");
    assert.equal(system.running, false);
    await assert.rejects(system.run(() => Promise.resolve()), SystemNotRunningError);
    assert.equal((await call(sim, "GET", system.path)).body.Status.State, "StandbyOffline");

    assert.equal((await reset(sim, "1", "On")).status, 204);
    assert.equal((await call(sim, "GET", system.path)).body.Status.State, "Starting");
    await system.waitForPowerState("On", soon());
    const after = (await call(sim, "GET", system.path)).body;
    assert.deepEqual([after.PowerState, after.Status.State, system.running, system.boots], ["On", "Enabled", true, 2]);
    assert.deepEqual(system.resets.map((r) => r.resetType), ["GracefulShutdown", "On"]);
    assert.ok(Date.parse(after.LastResetTime) >= Date.now() - 5_000);
  },
);

/** One ResetType from one power state: what the system shows right after the reply, and then. */
interface ResetCase {
  resetType: ResetType;
  from: "On" | "Off";
  /** PowerState right after the 204. */
  now: PowerState;
  /** States awaited in order after that (the last is where it stays). */
  then: PowerState[];
  boots: number;
  /** A running program is aborted. */
  aborts: boolean;
  /** Least time from the reply to the end. */
  minMs: number;
}

const T = 60;
const RESET_CASES: ResetCase[] = [
  { resetType: "On", from: "Off", now: "PoweringOn", then: ["On"], boots: 1, aborts: false, minMs: T },
  { resetType: "ForceOn", from: "Off", now: "PoweringOn", then: ["On"], boots: 1, aborts: false, minMs: T },
  { resetType: "On", from: "On", now: "On", then: [], boots: 1, aborts: false, minMs: 0 },
  { resetType: "ForceOff", from: "On", now: "Off", then: [], boots: 1, aborts: true, minMs: 0 },
  { resetType: "ForceOff", from: "Off", now: "Off", then: [], boots: 0, aborts: false, minMs: 0 },
  { resetType: "GracefulShutdown", from: "On", now: "PoweringOff", then: ["Off"], boots: 1, aborts: true, minMs: T },
  { resetType: "GracefulShutdown", from: "Off", now: "Off", then: [], boots: 0, aborts: false, minMs: 0 },
  {
    resetType: "GracefulRestart",
    from: "On",
    now: "PoweringOff",
    then: ["Off", "PoweringOn", "On"],
    boots: 2,
    aborts: true,
    minMs: 2 * T,
  },
  { resetType: "ForceRestart", from: "On", now: "On", then: [], boots: 2, aborts: true, minMs: T },
  { resetType: "PowerCycle", from: "On", now: "Off", then: ["PoweringOn", "On"], boots: 2, aborts: true, minMs: 2 * T },
  { resetType: "PowerCycle", from: "Off", now: "PoweringOn", then: ["On"], boots: 1, aborts: false, minMs: T },
  { resetType: "PushPowerButton", from: "Off", now: "PoweringOn", then: ["On"], boots: 1, aborts: false, minMs: T },
  { resetType: "PushPowerButton", from: "On", now: "PoweringOff", then: ["Off"], boots: 1, aborts: true, minMs: T },
  { resetType: "Nmi", from: "On", now: "On", then: [], boots: 1, aborts: false, minMs: 0 },
];

Deno.test("each ResetType from On and Off: the states it passes, boots, programs aborted, LastResetTime", async () => {
  await using sim = await startBmcSimulator({
    systems: RESET_CASES.map((c) => ({ powerState: c.from, transitionMs: T, resetTypes: [...RESET_TYPES] })),
  });
  await Promise.all(RESET_CASES.map(async (c, index) => {
    const what = `${c.resetType} from ${c.from}`;
    const system = sim.systems[index];
    let programSignal: AbortSignal | undefined;
    const program = c.from === "On"
      ? system.run((signal) => {
        programSignal = signal;
        return aborted(signal);
      })
      : undefined;
    const lastResetBefore = (await call(sim, "GET", system.path)).body.LastResetTime;
    const sent = Date.now();
    const started = performance.now();
    assert.equal((await reset(sim, system.id, c.resetType)).status, 204, what);
    assert.equal(system.powerState, c.now, `${what}: right after the reply`);
    for (const state of c.then) await system.waitForPowerState(state, soon());
    const final = c.then.at(-1) ?? c.now;
    if (final === "On") await system.waitUntilRunning(soon());
    assert.ok(performance.now() - started >= c.minMs - 5, `${what}: takes at least ${c.minMs} ms`);
    assert.deepEqual([system.powerState, system.running, system.boots], [final, final === "On", c.boots], what);
    if (c.aborts) assert.equal(((await program) as SystemDownError).trigger, c.resetType, what);
    else assert.equal(programSignal?.aborted ?? false, false, `${what}: the program keeps running`);
    assert.deepEqual(system.resets.map((r) => r.resetType), [c.resetType], what);
    const lastReset = (await call(sim, "GET", system.path)).body.LastResetTime;
    const changed = c.boots !== (c.from === "On" ? 1 : 0) || c.now !== c.from || c.then.length > 0;
    if (changed) assert.ok(Date.parse(lastReset) >= sent, `${what}: LastResetTime updated`);
    else assert.equal(lastReset, lastResetBefore, `${what}: LastResetTime unchanged`);
  }));
});

simulatorTest(
  "a reset during a transition wins: ForceOff while PoweringOn is Off at once and the On never comes",
  { systems: [{ powerState: "Off", transitionMs: 100 }] },
  async (sim) => {
    const system = sim.system("1");
    assert.equal((await reset(sim, "1", "On")).status, 204);
    assert.equal(system.powerState, "PoweringOn");
    assert.equal((await reset(sim, "1", "ForceOff")).status, 204);
    assert.equal(system.powerState, "Off");
    await assert.rejects(system.waitForPowerState("On", AbortSignal.timeout(300)), { name: "TimeoutError" });
    assert.deepEqual([system.powerState, system.boots], ["Off", 0]);
  },
);

simulatorTest(
  "a ResetType not allowed, a missing or mistyped one and malformed JSON are refused with 400 and change nothing",
  { systems: [{ resetTypes: ["On", "ForceOff"] }] },
  async (sim) => {
    const system = sim.system("1");
    const allowed = (await call(sim, "GET", system.path)).body.Actions["#ComputerSystem.Reset"];
    assert.deepEqual(allowed, {
      target: "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
      "ResetType@Redfish.AllowableValues": ["On", "ForceOff"],
    });
    const notAllowed = await reset(sim, "1", "GracefulRestart");
    assert.equal(notAllowed.status, 400);
    assert.deepEqual(messageIds(notAllowed), ["Base.1.19.ActionParameterValueNotInList"]);
    const [message] = notAllowed.body.error["@Message.ExtendedInfo"];
    assert.deepEqual(message.MessageArgs, ["GracefulRestart", "ResetType", "ComputerSystem.Reset"]);
    assert.match(message.Resolution, /\(On, ForceOff\)/, "the Resolution names the allowable values");
    assert.equal((await reset(sim, "1", "Bogus")).status, 400);

    const missing = await reset(sim, "1", undefined);
    assert.deepEqual([missing.status, messageIds(missing)], [400, ["Base.1.19.ActionParameterMissing"]]);
    const mistyped = await reset(sim, "1", 1);
    assert.deepEqual([mistyped.status, messageIds(mistyped)], [400, ["Base.1.19.ActionParameterValueTypeError"]]);
    const malformed = await call(sim, "POST", `${system.path}/Actions/ComputerSystem.Reset`, { body: "{ResetType" });
    assert.deepEqual([malformed.status, messageIds(malformed)], [400, ["Base.1.19.MalformedJSON"]]);
    const unknown = await reset(sim, "2", "On");
    assert.deepEqual([unknown.status, messageIds(unknown)], [404, ["Base.1.19.ResourceNotFound"]]);
    assert.deepEqual([system.powerState, system.resets], ["On", []]);
  },
);

simulatorTest(
  "gracefulHonoured false: GracefulShutdown and GracefulRestart are accepted and nothing happens",
  { systems: [{ gracefulHonoured: false, transitionMs: 20 }] },
  async (sim) => {
    const system = sim.system("1");
    let programSignal: AbortSignal | undefined;
    system.run((signal) => {
      programSignal = signal;
      return aborted(signal);
    });
    assert.equal((await reset(sim, "1", "GracefulShutdown")).status, 204);
    assert.equal((await reset(sim, "1", "GracefulRestart")).status, 204);
    assert.deepEqual([system.powerState, system.running, system.boots, programSignal?.aborted], ["On", true, 1, false]);
    assert.deepEqual(system.resets.map((r) => r.resetType), ["GracefulShutdown", "GracefulRestart"]);
    assert.equal((await reset(sim, "1", "ForceOff")).status, 204, "a forced reset still works");
    assert.equal(system.powerState, "Off");
  },
);

simulatorTest(
  "resetReply 200 answers with a Redfish success body",
  { systems: [{ resetReply: "200" }] },
  async (sim) => {
    const reply = await reset(sim, "1", "ForceOff");
    assert.equal(reply.status, 200);
    assert.deepEqual(reply.body["@Message.ExtendedInfo"].map((m: { MessageId: string }) => m.MessageId), [
      "Base.1.19.Success",
    ]);
    assert.equal(sim.system("1").powerState, "Off");
  },
);

simulatorTest(
  "resetReply 202: the task monitor answers 202 while the transition runs, then 204; the Task Running, then Completed",
  { systems: [{ resetReply: "202", transitionMs: 100 }] },
  async (sim) => {
    const system = sim.system("1");
    const accepted = await reset(sim, "1", "GracefulShutdown");
    assert.equal(accepted.status, 202);
    const monitor = accepted.headers.get("Location");
    assert.match(monitor ?? "", /^\/redfish\/v1\/TaskService\/TaskMonitors\/\d+$/);
    assert.deepEqual([accepted.body.TaskState, accepted.body.TaskMonitor], ["Running", monitor]);
    const running = await call(sim, "GET", monitor ?? "");
    assert.deepEqual([running.status, running.headers.get("Location"), running.body.TaskState], [
      202,
      monitor,
      "Running",
    ]);

    await system.waitForPowerState("Off", soon());
    const done = await call(sim, "GET", monitor ?? "");
    assert.deepEqual([done.status, done.body], [204, undefined]);
    const task = (await call(sim, "GET", accepted.body["@odata.id"])).body;
    assert.deepEqual([task.TaskState, task.TaskStatus, task.PercentComplete], ["Completed", "OK", 100]);
    assert.ok(Date.parse(task.EndTime) >= Date.parse(task.StartTime));
    const tasks = (await call(sim, "GET", "/redfish/v1/TaskService/Tasks")).body;
    assert.deepEqual(tasks.Members, [{ "@odata.id": accepted.body["@odata.id"] }]);
    assert.equal((await call(sim, "GET", "/redfish/v1/TaskService/TaskMonitors/99")).status, 404);
  },
);

simulatorTest(
  'redundantReset "conflict": On when On and ForceOff when Off answer 409 and are not recorded',
  { systems: [{ redundantReset: "conflict" }, {}] },
  async (sim) => {
    const onWhenOn = await reset(sim, "1", "On");
    assert.equal(onWhenOn.status, 409);
    assert.deepEqual(messageIds(onWhenOn), ["Base.1.19.ActionParameterValueConflict"]);
    assert.equal((await reset(sim, "1", "ForceOff")).status, 204);
    assert.equal((await reset(sim, "1", "ForceOff")).status, 409);
    assert.deepEqual(sim.system("1").resets.map((r) => r.resetType), ["ForceOff"]);
    // The default, "ok": accepted, nothing happens, recorded.
    assert.equal((await reset(sim, "2", "On")).status, 204);
    assert.deepEqual([sim.system("2").boots, sim.system("2").resets.length], [1, 1]);
  },
);

simulatorTest(
  "sessions: created with a token that works, limited, listed, deleted (its token then 401)",
  { maxSessions: 2 },
  async (sim) => {
    const credentials = { UserName: sim.username, Password: sim.password };
    const first = await call(sim, "POST", SESSIONS, { body: credentials, headers: {} });
    assert.equal(first.status, 201);
    const token = first.headers.get("X-Auth-Token") ?? "";
    const location = first.headers.get("Location") ?? "";
    assert.match(token, /^[0-9a-f]{32}$/);
    assert.equal(location, `${SESSIONS}/${first.body.Id}`);
    assert.deepEqual([first.body.UserName, first.body.Password, first.body.Token], [
      sim.username,
      undefined,
      undefined,
    ]);
    const withToken = { "X-Auth-Token": token };
    assert.equal((await call(sim, "GET", "/redfish/v1/Systems/1", { headers: withToken })).status, 200);

    assert.equal((await call(sim, "POST", SESSIONS, { body: credentials, headers: {} })).status, 201);
    const third = await call(sim, "POST", SESSIONS, { body: credentials, headers: {} });
    assert.deepEqual([third.status, messageIds(third)], [503, ["Base.1.19.SessionLimitExceeded"]]);
    const wrong = await call(sim, "POST", SESSIONS, { body: { ...credentials, Password: "x" }, headers: {} });
    assert.equal(wrong.status, 401);
    assert.equal((await call(sim, "GET", SESSIONS, { headers: withToken })).body["Members@odata.count"], 2);
    assert.deepEqual(
      [sim.stats().sessionsOpen, sim.stats().maxSessionsOpen, sim.stats().sessionsCreated],
      [2, 2, 2],
    );

    assert.equal((await call(sim, "DELETE", location, { headers: withToken })).status, 204);
    const after = await call(sim, "GET", "/redfish/v1/Systems/1", { headers: withToken });
    assert.deepEqual([after.status, messageIds(after)], [401, ["Base.1.19.NoValidSession"]]);
    assert.equal(sim.stats().sessionsOpen, 1);
    assert.equal((await call(sim, "POST", SESSIONS, { body: credentials, headers: {} })).status, 201);
    assert.equal((await call(sim, "DELETE", `${SESSIONS}/nope`)).status, 404);
  },
);

simulatorTest("an idle session expires: its token then answers 401 NoValidSession", {
  sessionTimeoutSeconds: 0.2,
}, async (sim) => {
  const created = await call(sim, "POST", SESSIONS, {
    body: { UserName: sim.username, Password: sim.password },
    headers: {},
  });
  const withToken = { "X-Auth-Token": created.headers.get("X-Auth-Token") ?? "" };
  assert.equal((await call(sim, "GET", "/redfish/v1/Systems", { headers: withToken })).status, 200);
  // Nothing emits an expiry: poll the stats (which do not use the token, so do not keep it alive).
  await waitFor(() => sim.stats().sessionsOpen === 0, { what: "the session to expire" });
  const expired = await call(sim, "GET", "/redfish/v1/Systems", { headers: withToken });
  assert.deepEqual([expired.status, messageIds(expired)], [401, ["Base.1.19.NoValidSession"]]);
});

simulatorTest(
  "auth: 401 with a Basic challenge; Basic accepted; the root and /redfish need nothing",
  {},
  async (sim) => {
    const none = await call(sim, "GET", "/redfish/v1/Systems", { headers: {} });
    assert.deepEqual([none.status, messageIds(none)], [401, ["Base.1.19.NoValidSession"]]);
    assert.match(none.headers.get("WWW-Authenticate") ?? "", /^Basic realm="/);
    const wrong = await call(sim, "GET", "/redfish/v1/Systems", {
      headers: basic({ username: "admin", password: "x" }),
    });
    assert.deepEqual([wrong.status, messageIds(wrong)], [401, ["Base.1.19.ResourceAtUriUnauthorized"]]);
    assert.equal((await call(sim, "GET", "/redfish/v1/Systems")).status, 200);
    const root = await call(sim, "GET", "/redfish/v1/", { headers: {} });
    assert.deepEqual([root.status, root.body.Links.Sessions["@odata.id"]], [200, SESSIONS]);
    assert.equal(
      (await call(sim, "GET", "/redfish/v1", { headers: {} })).status,
      200,
      "without the trailing slash too",
    );
    assert.deepEqual((await call(sim, "GET", "/redfish", { headers: {} })).body, { v1: "/redfish/v1/" });
    // Unknown URIs need authentication first, then 404; a method a URI lacks is 405 with Allow.
    assert.equal((await call(sim, "GET", "/redfish/v1/Chassis", { headers: {} })).status, 401);
    const unknown = await call(sim, "GET", "/redfish/v1/Chassis");
    assert.deepEqual([unknown.status, messageIds(unknown)], [404, ["Base.1.19.ResourceNotFound"]]);
    const notAllowed = await call(sim, "PATCH", "/redfish/v1/Systems/1", { body: {} });
    assert.deepEqual([notAllowed.status, notAllowed.headers.get("Allow")], [405, "GET, HEAD"]);
  },
);

simulatorTest('auth "basic": no SessionService, no Links.Sessions; Basic works', { auth: "basic" }, async (sim) => {
  const root = (await call(sim, "GET", "/redfish/v1/", { headers: {} })).body;
  assert.deepEqual([root.SessionService, root.Links], [undefined, {}]);
  assert.equal((await call(sim, "GET", "/redfish/v1/SessionService")).status, 404);
  const post = await call(sim, "POST", SESSIONS, { body: { UserName: "admin", Password: "password" }, headers: {} });
  assert.equal(post.status, 401, "no public session POST: the URI needs authentication, then does not exist");
  assert.equal((await call(sim, "GET", "/redfish/v1/Systems/1")).status, 200);
  assert.equal(sim.stats().sessionsCreated, 0);
});

simulatorTest("faults: errorRate 1 answers 500 InternalError before acting", {}, async (sim) => {
  sim.faults.errorRate = 1;
  const failed = await reset(sim, "1", "ForceOff");
  assert.deepEqual([failed.status, messageIds(failed)], [500, ["Base.1.19.InternalError"]]);
  assert.deepEqual([sim.system("1").powerState, sim.system("1").resets], ["On", []]);
  sim.faults.errorRate = 0;
  assert.equal((await reset(sim, "1", "ForceOff")).status, 204);
});

simulatorTest(
  "faults: unavailable answers 503 with Retry-After for the next count requests, before acting",
  {},
  async (sim) => {
    sim.faults.unavailable = { count: 2, retryAfterSeconds: 7 };
    for (let i = 0; i < 2; i++) {
      const reply = await reset(sim, "1", "ForceOff");
      assert.deepEqual([reply.status, reply.headers.get("Retry-After"), messageIds(reply)], [
        503,
        "7",
        ["Base.1.19.ServiceTemporarilyUnavailable"],
      ]);
    }
    assert.deepEqual([sim.system("1").powerState, sim.faults.unavailable], ["On", undefined]);
    assert.equal((await reset(sim, "1", "ForceOff")).status, 204);
  },
);

simulatorTest(
  "faults: a lost reply is carried out, then the connection drops: the client sees a network error",
  {},
  async (sim) => {
    // No pooled connections: see the next test for what a reused connection does.
    using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    sim.faults.loseReplies = 1;
    assert.equal((await call(sim, "GET", "/redfish/v1/Systems/1", { client })).status, 200, "a GET is never lost");
    assert.equal(sim.faults.loseReplies, 1);
    await assert.rejects(reset(sim, "1", "ForceOff", { client }), TypeError);
    assert.deepEqual([sim.system("1").powerState, sim.system("1").resets.length], ["Off", 1], "carried out");
    assert.deepEqual([sim.faults.loseReplies, sim.stats().byStatus.lost, sim.stats().requests], [0, 1, 2]);
    assert.equal((await reset(sim, "1", "On", { client })).status, 204, "the next reply arrives");
  },
);

simulatorTest(
  "a lost reply on a reused keep-alive connection: Deno's fetch sends the POST again, so it is carried out twice",
  {},
  async (sim) => {
    // What a client using fetch's default pool must know (hyper replays a request once when a reused connection
    // closes without a reply). If this starts failing, Deno changed: the client's lost-reply handling may simplify.
    using client = Deno.createHttpClient({});
    assert.equal((await call(sim, "GET", "/redfish/v1/Systems/1", { client })).status, 200); // pools a connection
    sim.faults.loseReplies = 1;
    const reply = await reset(sim, "1", "ForceOff", { client });
    assert.equal(reply.status, 204, "the replayed request's reply");
    assert.deepEqual(sim.system("1").resets.map((r) => r.resetType), ["ForceOff", "ForceOff"]);
    assert.deepEqual(sim.stats().byStatus, { "200": 1, "204": 1, lost: 1 });
  },
);

simulatorTest("faults: a hung request is not carried out and ends when the client gives up", {}, async (sim) => {
  sim.faults.hang = 1;
  await assert.rejects(reset(sim, "1", "ForceOff", { signal: AbortSignal.timeout(200) }), { name: "TimeoutError" });
  await waitFor(() => sim.stats().inFlight === 0, { what: "the hung request to end" });
  assert.deepEqual([sim.system("1").powerState, sim.stats().byStatus.hang, sim.faults.hang], ["On", 1, 0]);
  assert.equal((await reset(sim, "1", "ForceOff")).status, 204);
});

Deno.test("faults: a hung request ends without a reply when the simulator closes", async () => {
  const sim = await startBmcSimulator();
  try {
    sim.faults.hang = 1;
    // Settled into a value at once: the rejection comes while close() is awaited.
    const hung = call(sim, "GET", "/redfish/v1/Systems").then(() => "replied", (error: Error) => error);
    await waitFor(() => sim.stats().inFlight === 1, { what: "the request to arrive" });
    await sim.close();
    assert.ok((await hung) instanceof TypeError);
    assert.equal(sim.stats().byStatus.hang, 1);
  } finally {
    await sim.close();
  }
});

simulatorTest("refuseConnections: connections are refused until resume, on the same port", {}, async (sim) => {
  const url = sim.url;
  assert.equal((await call(sim, "GET", "/redfish/v1/")).status, 200);
  await sim.refuseConnections();
  await assert.rejects(call(sim, "GET", "/redfish/v1/"), TypeError);
  await sim.resume();
  assert.equal(sim.url, url);
  assert.equal((await call(sim, "GET", "/redfish/v1/")).status, 200);
});

simulatorTest("latency delays every reply; maxInFlight counts requests at once", { latencyMs: 150 }, async (sim) => {
  const started = performance.now();
  const replies = await Promise.all(Array.from({ length: 6 }, () => call(sim, "GET", "/redfish/v1/Systems/1")));
  assert.ok(performance.now() - started >= 145);
  assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
  const stats = sim.stats();
  assert.deepEqual([stats.requests, stats.inFlight, stats.maxInFlight, stats.byStatus], [6, 0, 6, { "200": 6 }]);
  sim.faults.latencyMs = { min: 40, max: 60 };
  const again = performance.now();
  await call(sim, "GET", "/redfish/v1/");
  assert.ok(performance.now() - again >= 35);
});

Deno.test("setPower is immediate and aborts programs; run() refuses a system that is off; close ends waits", async () => {
  const sim = await startBmcSimulator({ systems: [{ powerState: "Off" }] });
  try {
    const system = sim.system("1");
    assert.throws(() => sim.system("2"), RangeError);
    await assert.rejects(system.run(() => Promise.resolve()), SystemNotRunningError);
    system.setPower("On");
    assert.deepEqual([system.powerState, system.running, system.boots], ["On", true, 1]);
    const program = system.run((signal) => aborted(signal));
    system.setPower("Off");
    assert.equal(((await program) as SystemDownError).trigger, "setPower");
    assert.deepEqual(system.resets, [], "setPower is not a Reset");

    const giveUp = new AbortController();
    const waiting = system.waitForPowerState("On", giveUp.signal);
    giveUp.abort(new Error("gave up"));
    await assert.rejects(waiting, /gave up/);

    system.setPower("On");
    const running = system.run((signal) => aborted(signal));
    const neverOff = system.waitForPowerState("PoweringOff");
    await sim.close();
    await assert.rejects(neverOff, BmcSimulatorClosedError);
    assert.equal(((await running) as SystemDownError).trigger, "simulator closed");
  } finally {
    await sim.close();
  }
});

Deno.test("options out of range are refused with a RangeError", async () => {
  await assert.rejects(startBmcSimulator({ systems: [{ id: "a" }, { id: "a" }] }), RangeError);
  await assert.rejects(startBmcSimulator({ systems: [{ transitionMs: -1 }] }), RangeError);
  await assert.rejects(startBmcSimulator({ systems: [{ resetTypes: ["Explode" as ResetType] }] }), RangeError);
  await assert.rejects(startBmcSimulator({ latencyMs: { min: 5, max: 1 } }), RangeError);
  await assert.rejects(startBmcFleet({ count: 0 }), RangeError);
});

Deno.test("https with a self-signed certificate made by openssl", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bmc-sim-tls-" });
  try {
    const { success, stderr } = await new Deno.Command("/usr/bin/openssl", {
      args: [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"],
        ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-subj", "/CN=127.0.0.1"],
        ...["-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:FALSE"],
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    const cert = await Deno.readTextFile(`${dir}/cert.pem`);
    const key = await Deno.readTextFile(`${dir}/key.pem`);
    await using sim = await startBmcSimulator({ tls: { cert, key } });
    assert.match(sim.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    using client = Deno.createHttpClient({ caCerts: [cert], poolMaxIdlePerHost: 0 });
    assert.equal((await call(sim, "GET", "/redfish/v1/", { client, headers: {} })).status, 200);
    assert.equal((await call(sim, "GET", "/redfish/v1/Systems/1", { client })).body.PowerState, "On");
    await assert.rejects(call(sim, "GET", "/redfish/v1/"), TypeError, "an unknown issuer is refused without the CA");
    sim.faults.loseReplies = 1;
    await assert.rejects(reset(sim, "1", "ForceOff", { client }), TypeError, "a lost reply over TLS");
    assert.equal(sim.system("1").powerState, "Off");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startBmcFleet: 50 BMCs on distinct ports, their stats summed", async () => {
  await using fleet = await startBmcFleet({ count: 50, systems: 2 });
  assert.equal(new Set(fleet.bmcs.map((b) => b.url)).size, 50);
  await Promise.all(fleet.bmcs.slice(0, 10).map((bmc) => call(bmc, "GET", "/redfish/v1/Systems/2")));
  await call(fleet.bmcs[0], "GET", "/redfish/v1/Systems/1");
  const stats = fleet.stats();
  assert.deepEqual(
    [stats.bmcs, stats.requests, stats.maxInFlightPerBmc, stats.maxSessionsPerBmc, stats.sessionsOpen],
    [50, 11, 1, 0, 0],
  );
  assert.deepEqual(stats.byStatus, { "200": 11 });
});

Deno.test("deno task bmc-sim writes a valid inventory and a 0600 credentials file, serves /_sim/, stops on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bmc-sim-main-" });
  const inventoryPath = `${dir}/inventory.yaml`;
  const credentialsPath = `${dir}/credentials.yaml`;
  const controlPort = freePort();
  const child = spawnWatched({
    args: [
      ...["task", "--quiet", "bmc-sim", "--bmcs", "3", "--systems-per-bmc", "4", "--transition-ms", "50"],
      ...["--control-port", String(controlPort), "--write-inventory", inventoryPath],
      ...["--write-credentials", credentialsPath],
    ],
    cwd: REPO,
    env: Deno.env.toObject(),
    readyWhen: (stdout) => stdout.includes("Control endpoint listening") ? stdout : undefined,
    what: "deno task bmc-sim",
  });
  try {
    const printed = await within(child.ready, 30_000, "bmc-sim's listening lines");
    const urls = [...printed.matchAll(/^BMC \d+ listening on (\S+) /gm)].map((m) => m[1]);
    assert.equal(urls.length, 3);

    const inventory = parseYaml(await Deno.readTextFile(inventoryPath));
    const machines: { id: string; ssh: string; location: string; bmc: Record<string, string> }[] = inventory.machines;
    assert.equal(machines.length, 12);
    assert.deepEqual(
      machines.map((m) => m.id),
      Array.from({ length: 12 }, (_, i) => `sim-${String(i + 1).padStart(4, "0")}`),
    );
    assert.ok(machines.every((m) => /^[A-Za-z0-9._-]{1,128}$/.test(m.id) && m.ssh === "root@127.0.0.1:22"));
    assert.deepEqual(machines.map((m) => m.location), [...Array(10).fill("sim-rack-01"), "sim-rack-02", "sim-rack-02"]);
    assert.deepEqual(machines[5].bmc, {
      url: urls[1],
      system: "/redfish/v1/Systems/2",
      credentials: "sim",
      tls: "insecure",
    });

    assert.equal(((await Deno.stat(credentialsPath)).mode ?? 0) & 0o777, 0o600);
    const { sim: login } = parseYaml(await Deno.readTextFile(credentialsPath));
    assert.equal(login.username, "admin");
    assert.match(login.password, /^[A-Za-z0-9]{24}$/);
    const bmc: Bmc = { url: machines[5].bmc.url, username: login.username, password: login.password };
    const system = await call(bmc, "GET", machines[5].bmc.system);
    assert.deepEqual([system.status, system.body.PowerState], [200, "On"]);

    const control = `http://127.0.0.1:${controlPort}/_sim`;
    const stats = await (await fetch(`${control}/stats`)).json();
    assert.deepEqual([stats.bmcs, stats.requests, stats.byStatus], [3, 1, { "200": 1 }]);
    const set = await fetch(`${control}/faults`, {
      method: "POST",
      body: JSON.stringify({ unavailable: { count: 1, retryAfterSeconds: 2 } }),
    });
    assert.equal(set.status, 200);
    await set.body?.cancel();
    const refused = await call(bmc, "GET", machines[5].bmc.system);
    assert.deepEqual([refused.status, refused.headers.get("Retry-After")], [503, "2"]);
    const bad = await fetch(`${control}/faults`, { method: "POST", body: JSON.stringify({ errorRate: 3 }) });
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const status = await child.stop();
    assert.equal(status.code, 0, child.log());
    assert.match(child.log(), /stopping \(SIGTERM\)/);
  } finally {
    await child.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task bmc-sim refuses bad flags with its usage and exit code 2", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-write", "redfish/simulator/main.ts", "--latency", "9-1"],
    cwd: REPO,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(code, 2);
  assert.match(new TextDecoder().decode(stderr), /--latency must be MS or MIN-MAX[\s\S]*Usage: deno task bmc-sim/);
});
