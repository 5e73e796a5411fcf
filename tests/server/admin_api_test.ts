/**
 * The admin API over HTTP on a real BMDB: access (tokens, read-only, Origin,
 * login cookie), every read, the operator's actions singly and in bulk, and
 * each bad input's status and message, changing nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Process, Provider, ProviderStatus, type Session } from "../../bmdb/mod.ts";
import { bmdbTest, countRows } from "../harness/bmdb.ts";
import { type AdminServer, startAdminServer } from "../harness/admin_server.ts";
import { ADMIN_MAX_BODY_BYTES } from "../../server/app.ts";
import { FaultyDriver } from "../harness/faulty_driver.ts";
import { aborted, within } from "../harness/wait.ts";

/** `n` running machines at 10.2.0.<i>. */
async function machines(session: Session, n: number): Promise<string[]> {
  return await session.transact(async (q) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { machineId } = await q.newMachine();
      await q.machineAddProvided({
        machineId,
        provider: Provider.Equinix,
        providerId: `dev-${i}`,
        providerIpAddress: `10.2.0.${i}`,
        providerLocation: "sv",
        providerStatus: ProviderStatus.Running,
      });
      ids.push(machineId);
    }
    return ids;
  });
}

async function call(
  s: AdminServer,
  method: string,
  path: string,
  { body, token, headers = {} }: { body?: unknown; token?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${s.url}/api/v1${path}`, {
    method,
    headers: {
      ...(token === null ? {} : s.auth(token)),
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : {} };
}

const BACKOFF = { initialSeconds: 300, maximumSeconds: 300, exponent: 2 };

bmdbTest("access: tokens, the read-only token, Origin, and the login cookie", async (t) => {
  await using s = await startAdminServer(t);
  assert.deepEqual(await call(s, "GET", "/whoami", { token: null }), {
    status: 401,
    json: { error: "missing or wrong token" },
  });
  assert.equal((await call(s, "GET", "/whoami", { token: "guess" })).status, 401);
  assert.deepEqual((await call(s, "GET", "/whoami")).json, { role: "admin" });
  assert.deepEqual((await call(s, "GET", "/whoami", { token: s.readonlyToken })).json, { role: "readonly" });
  assert.equal((await fetch(`${s.url}/metrics`)).status, 401, "metrics need a token");
  const metrics = await fetch(`${s.url}/metrics`, { headers: s.auth() });
  assert.equal(metrics.status, 200);
  const text = await metrics.text();
  assert.match(text, /^drover_machines 0$/m, "the BMDB's counts, from the change feed");
  assert.match(text, /^drover_active_work\{process="ShepherdAgentStart"\} 0$/m);

  const retry = { body: { process: Process.ShepherdAgentStart } };
  const machineId = crypto.randomUUID();
  assert.deepEqual(await call(s, "POST", `/machines/${machineId}/retry`, { ...retry, token: s.readonlyToken }), {
    status: 403,
    json: { error: "the read-only token cannot change anything" },
  });
  const foreign = await call(s, "POST", `/machines/${machineId}/retry`, {
    ...retry,
    headers: { origin: "https://evil.example" },
  });
  assert.equal(foreign.status, 403);
  assert.match(String(foreign.json.error), /^Origin https:\/\/evil\.example is not this server's/);

  // Login: the cookie, then a redirect to the same page without the token.
  const login = await fetch(`${s.url}/machines?q=10.2&token=${s.adminToken}`, { redirect: "manual" });
  assert.equal(login.status, 303);
  assert.equal(login.headers.get("location"), "/machines?q=10.2");
  const cookie = login.headers.get("set-cookie")!;
  assert.match(cookie, /^drover_token=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
  await login.body?.cancel();
  const jar = { cookie: cookie.split(";")[0] };
  assert.deepEqual((await call(s, "GET", "/whoami", { token: null, headers: jar })).json, { role: "admin" });
  const noOrigin = await call(s, "POST", `/machines/${machineId}/retry`, { ...retry, token: null, headers: jar });
  assert.equal(noOrigin.status, 403, "a cookie-authenticated POST needs an Origin");
  const sameOrigin = await call(s, "POST", `/machines/${machineId}/retry`, {
    ...retry,
    token: null,
    headers: { ...jar, origin: s.url },
  });
  assert.equal(sameOrigin.status, 404, "past access: the machine is unknown");
  const badLogin = await fetch(`${s.url}/login?token=guess`);
  assert.equal(badLogin.status, 401);
  assert.match(await badLogin.text(), /That token is not valid/);
  const page = await fetch(`${s.url}/`);
  assert.equal(page.status, 401, "a page without a token: the login page");
  assert.match(await page.text(), /<form method="get" action="\/login">/);
});

bmdbTest("metrics: drover_agents_quiet counts started agents without a heartbeat for a minute", async (t) => {
  await using s = await startAdminServer(t);
  const session = await t.bmdb.startSession({ intervalSeconds: 1 });
  try {
    const [quiet, heartbeating, neverHeard, justStarted] = await machines(session, 4);
    const minutesAgo = (n: number) => new Date(Date.now() - n * 60_000);
    await session.transact(async (q) => {
      const key = new Uint8Array([1]);
      for (
        const [machineId, startedAt] of [[quiet, 5], [heartbeating, 5], [neverHeard, 2], [justStarted, 0]] as const
      ) {
        await q.machineSetAgentStarted({ machineId, agentStartedAt: minutesAgo(startedAt), agentPublicKey: key });
      }
      await q.machineSetAgentHeartbeat({ machineId: quiet, agentHeartbeatAt: minutesAgo(3) });
      await q.machineSetAgentHeartbeat({ machineId: heartbeating, agentHeartbeatAt: new Date() });
    });
    const text = await (await fetch(`${s.url}/metrics`, { headers: s.auth() })).text();
    // quiet (last heartbeat 3 min ago) and neverHeard (started 2 min ago, no heartbeat); not the other two.
    assert.match(text, /^drover_agents_quiet 2$/m);
  } finally {
    await session.close();
  }
});

let faulty: FaultyDriver;
bmdbTest("the database unreachable: 503 with Retry-After (not 500), and the next request answers", async (t) => {
  await using s = await startAdminServer(t);
  const isListSessions = (text: string) =>
    text.includes("session_interval_seconds, session_deadline, count(*) OVER ()");
  for (const code of ["ECONNREFUSED", "57P03", "25006"]) {
    faulty.fail(isListSessions, "before sending", code);
    const response = await fetch(`${s.url}/api/v1/sessions`, { headers: s.auth() });
    assert.equal(response.status, 503, code);
    assert.equal(response.headers.get("retry-after"), "5");
    assert.match((await response.json()).error, /the database does not answer right now; nothing was done/);
    assert.equal((await call(s, "GET", "/sessions")).status, 200, `after ${code}`);
  }
  // A statement that is wrong, not an outage, stays a 500.
  faulty.fail(isListSessions, "before sending", "42P01");
  const wrong = await fetch(`${s.url}/api/v1/sessions`, { headers: s.auth() });
  await wrong.body?.cancel();
  assert.equal(wrong.status, 500);
}, { wrapDriver: (inner) => (faulty = new FaultyDriver(inner)).driver });

bmdbTest("reads: overview, sessions, work, backoffs, machines, a machine, reservations, health", async (t) => {
  await using s = await startAdminServer(t);
  const session = await t.bmdb.startSession();
  try {
    const ids = await machines(session, 5);
    const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([ids[0]]));
    const failed = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([ids[1]]));
    await failed.fail(BACKOFF, "dial failed");

    const overview = (await call(s, "GET", "/overview")).json as {
      counts: { machines: number; liveSessions: number; activeWork: Record<string, number> };
      rates: { claims: number[]; failures: number[]; bucketSeconds: number };
    };
    assert.equal(overview.counts.machines, 5);
    assert.equal(overview.counts.activeWork.ShepherdAgentStart, 1);
    assert.equal(overview.rates.claims.length, 60);
    assert.equal(overview.rates.claims.at(-1), 2, "two claims this minute");
    assert.equal(overview.rates.failures.at(-1), 1);

    const sessions = (await call(s, "GET", "/sessions")).json as { total: number; rows: { deadline: string }[] };
    assert.ok(sessions.total >= 1);
    assert.ok(Date.parse(sessions.rows[0].deadline) > Date.now() - 1000);
    const active = (await call(s, "GET", "/work")).json as { total: number; rows: { machineId: string }[] };
    assert.deepEqual(active.rows.map((r) => r.machineId), [ids[0]]);
    const backoffs = (await call(s, "GET", "/backoffs")).json as { rows: { machineId: string; cause: string }[] };
    assert.deepEqual(backoffs.rows.map((r) => [r.machineId, r.cause]), [[ids[1], "dial failed"]]);

    const page1 = (await call(s, "GET", "/machines?limit=3")).json as { rows: { machineId: string }[]; next: string };
    assert.equal(page1.rows.length, 3);
    const page2 = (await call(s, "GET", `/machines?limit=3&after=${page1.next}`)).json as {
      rows: unknown[];
      next: string | null;
    };
    assert.equal(page2.rows.length, 2);
    assert.equal(page2.next, null);
    const found = (await call(s, "GET", "/machines?q=10.2.0.3")).json as { rows: { machineId: string }[] };
    assert.deepEqual(found.rows.map((r) => r.machineId), [ids[3]]);
    const inBackoff = (await call(s, "GET", "/machines?inBackoff=true")).json as { rows: { machineId: string }[] };
    assert.deepEqual(inBackoff.rows.map((r) => r.machineId), [ids[1]]);

    const detail = (await call(s, "GET", `/machines/${ids[1]}`)).json as {
      machine: { providerIpAddress: string };
      whyIdle: { loops: { loop: string; unmet: { condition: string }[] }[] };
      timeline: { kind: string; event: string; detail: string | null }[];
    };
    assert.equal(detail.machine.providerIpAddress, "10.2.0.1");
    assert.deepEqual(detail.whyIdle.loops[0].unmet.map((u) => u.condition), ["noBackoff"]);
    assert.deepEqual(
      detail.timeline.filter((e) => e.kind === "work").map((e) => [e.event, e.detail]),
      [["Failed", "dial failed"], ["Started", null]],
    );
    assert.ok(detail.timeline.some((e) => e.kind === "backoff"));

    s.reservations.set([{
      id: "r-1",
      plan: "c3.small.x86",
      metro: "sv",
      provisionable: true,
      deviceId: null,
      readAt: new Date().toISOString(),
    }]);
    const reservations = (await call(s, "GET", "/reservations")).json as { rows: { id: string }[] };
    assert.deepEqual(reservations.rows.map((r) => r.id), ["r-1"]);

    assert.deepEqual(await (await fetch(`${s.url}/readyz`)).json(), { status: "ready" });
    assert.deepEqual(await (await fetch(`${s.url}/healthz`)).json(), { status: "ok" });
    await work.cancel();
  } finally {
    await session.close();
  }
});

bmdbTest("bad reads get 400 naming the field, unknown machines 404", async (t) => {
  await using s = await startAdminServer(t);
  const cases: [string, number, string | undefined][] = [
    ["/machines?q=%27%20OR%201%3D1", 400, "q"],
    ["/machines?tag=owner", 400, "tag"],
    ["/machines?process=Reboot", 400, "process"],
    ["/machines?inBackoff=yes", 400, "inBackoff"],
    ["/machines?limit=0", 400, "limit"],
    ["/machines?limit=ten", 400, "limit"],
    ["/machines?after=m-1", 400, "after"],
    ["/machines/m-1", 400, "machineId"],
    [`/machines/${crypto.randomUUID()}`, 404, undefined],
    ["/nothing", 404, undefined],
  ];
  for (const [path, status, field] of cases) {
    const answer = await call(s, "GET", path);
    assert.equal(answer.status, status, path);
    assert.equal(answer.json.field, field, path);
    assert.equal(typeof answer.json.error, "string", path);
  }
});

bmdbTest("cancel work: the owner's signal aborts, its finish commits nothing, history names the actor", async (t) => {
  await using s = await startAdminServer(t);
  const session = await t.bmdb.startSession({ intervalSeconds: 1 });
  try {
    const [machineId] = await machines(session, 1);
    const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machineId]));
    const answer = await call(s, "POST", "/work/cancel", {
      body: { machineId, process: Process.ShepherdAgentStart },
      headers: { "x-drover-actor": "alice" },
    });
    assert.deepEqual(answer, { status: 202, json: { machineId, process: Process.ShepherdAgentStart } });
    await within(aborted(work.signal), 3000, "the owner's work.signal abort");
    await assert.rejects(
      work.finish((q) =>
        q.machineSetAgentStarted({ machineId, agentStartedAt: new Date(), agentPublicKey: new Uint8Array([1]) })
      ),
      { name: "WorkCanceledError" },
    );
    assert.equal(await countRows(t, "SELECT count(*) FROM machine_agent_started"), 0, "nothing committed");
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => [h.event, h.actor]), [["Started", null], ["Canceled", "admin:alice"]]);

    const again = await call(s, "POST", "/work/cancel", { body: { machineId, process: Process.ShepherdAgentStart } });
    assert.equal(again.status, 404);
    const bad: [unknown, number, string | undefined][] = [
      [{ machineId: "m-1", process: Process.ShepherdAgentStart }, 400, "machineId"],
      [{ machineId, process: "Reboot" }, 400, "process"],
      [{ machineId }, 400, "process"],
      [{ machineId, process: Process.ShepherdAgentStart, extra: 1 }, 400, undefined],
      ["{", 400, undefined],
      [{ machineId: crypto.randomUUID(), process: Process.ShepherdAgentStart }, 404, undefined],
    ];
    for (const [body, status, field] of bad) {
      const r = await call(s, "POST", "/work/cancel", { body });
      assert.equal(r.status, status, JSON.stringify(body));
      assert.equal(r.json.field, field, JSON.stringify(body));
    }
  } finally {
    await session.close();
  }
});

bmdbTest("a request body over 1 MiB: 413 before it is read whole, and nothing changes", async (t) => {
  await using s = await startAdminServer(t);
  const session = await t.bmdb.startSession({ intervalSeconds: 1 });
  try {
    const [machineId] = await machines(session, 1);
    await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machineId]));
    // A valid cancel padded to 5 MB: refused by its size, not parsed (it would have canceled the work).
    const padded = JSON.stringify({ machineId, process: Process.ShepherdAgentStart }) + " ".repeat(5 * 1024 * 1024);
    const declared = await call(s, "POST", "/work/cancel", { body: padded });
    assert.equal(declared.status, 413);
    assert.equal(declared.json.error, `request body exceeds ${ADMIN_MAX_BODY_BYTES} bytes`);
    // The same without a Content-Length (streamed): cut at the limit.
    const chunks = [new TextEncoder().encode(padded)];
    const streamed = await fetch(`${s.url}/api/v1/work/cancel`, {
      method: "POST",
      headers: { ...s.auth(), "content-type": "application/json" },
      body: ReadableStream.from(chunks),
    });
    assert.equal(streamed.status, 413);
    await streamed.body?.cancel();
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => h.event), ["Started"], "the work was not canceled");
    // Within the limit, the same request works.
    const answer = await call(s, "POST", "/work/cancel", { body: { machineId, process: Process.ShepherdAgentStart } });
    assert.equal(answer.status, 202);
  } finally {
    await session.close();
  }
});

async function failOn(session: Session, ids: string[]): Promise<void> {
  for (const id of ids) {
    const w = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([id]));
    await w.fail(BACKOFF, "dial failed");
  }
}

bmdbTest("retry, single and bulk: dry run, echoed count, mismatch, cap, history", async (t) => {
  await using s = await startAdminServer(t, { bulkLimit: 3 });
  const session = await t.bmdb.startSession();
  try {
    const ids = await machines(session, 5);
    await failOn(session, ids);
    const one = await call(s, "POST", `/machines/${ids[0]}/retry`, { body: {} });
    assert.deepEqual(one, { status: 200, json: { machineId: ids[0], backoffsCleared: 1 } });
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId: ids[0] }));
    assert.deepEqual(history.at(-1)?.event, "Retried");
    assert.equal(history.at(-1)?.actor, "admin");
    assert.equal(
      (await call(s, "POST", `/machines/${ids[0]}/retry`, { body: { process: "Reboot" } })).json.field,
      "process",
    );

    // Bulk over a filter: 4 machines still in backoff, over the cap of 3.
    const filter = { inBackoff: true };
    assert.deepEqual((await call(s, "POST", "/machines/retry/bulk", { body: { filter, dryRun: true } })).json, {
      count: 4,
    });
    assert.equal((await call(s, "POST", "/machines/retry/bulk", { body: { filter, expectedCount: 4 } })).status, 422);
    // Bulk over a selection of 3.
    const selection = ids.slice(1, 4);
    assert.deepEqual((await call(s, "POST", "/machines/retry/bulk", { body: { selection, dryRun: true } })).json, {
      count: 3,
    });
    const missing = await call(s, "POST", "/machines/retry/bulk", { body: { selection } });
    assert.deepEqual([missing.status, missing.json.field], [400, "expectedCount"]);
    const mismatch = await call(s, "POST", "/machines/retry/bulk", { body: { selection, expectedCount: 2 } });
    assert.deepEqual(mismatch, {
      status: 409,
      json: { error: "count mismatch: expected 2, the selection now holds 3", field: "expectedCount" },
    });
    assert.equal(await countRows(t, "SELECT count(*) FROM work_backoff"), 4, "nothing changed so far");
    const applied = await call(s, "POST", "/machines/retry/bulk", { body: { selection, expectedCount: 3 } });
    assert.deepEqual(applied, { status: 200, json: { count: 3, backoffsCleared: 3 } });
    assert.equal(await countRows(t, "SELECT count(*) FROM work_backoff"), 1);
    const both = await call(s, "POST", "/machines/retry/bulk", { body: { selection, filter, dryRun: true } });
    assert.equal(both.status, 400);
    assert.equal((await call(s, "POST", "/machines/retry/bulk", { body: { dryRun: true } })).status, 400);
  } finally {
    await session.close();
  }
});

bmdbTest("bulk cancel over a filter cancels every matching work of the process", async (t) => {
  await using s = await startAdminServer(t);
  const session = await t.bmdb.startSession({ intervalSeconds: 1 });
  try {
    const ids = await machines(session, 3);
    const held = await Promise.all(
      ids.slice(0, 2).map((id) => session.work(Process.ShepherdAgentStart, () => Promise.resolve([id]))),
    );
    const filter = { q: "10.2.0", process: Process.ShepherdAgentStart };
    const dry = await call(s, "POST", "/work/cancel/bulk", { body: { filter, dryRun: true } });
    assert.deepEqual(dry.json, { count: 2 });
    const applied = await call(s, "POST", "/work/cancel/bulk", { body: { filter, expectedCount: 2 } });
    assert.deepEqual(applied.json, { count: 2, canceled: 2 });
    await within(Promise.all(held.map((w) => aborted(w.signal))), 3000, "both owners' signals abort");
    for (const w of held) await w.cancel();
    const missingProcess = await call(s, "POST", "/work/cancel/bulk", {
      body: { filter: { q: "10.2" }, dryRun: true },
    });
    assert.deepEqual([missingProcess.status, missingProcess.json.field], [400, "filter.process"]);
  } finally {
    await session.close();
  }
});

bmdbTest(
  "operators are offered Drover's processes only: the API lists them, and test-only ones are refused and not counted",
  async (t) => {
    await using s = await startAdminServer(t);
    const listed = (await call(s, "GET", "/processes")).json as { processes: { name: string; description: string }[] };
    assert.deepEqual(listed.processes.map((p) => p.name), ["ShepherdAgentStart", "ShepherdRecovery", "PowerAction"]);
    assert.ok(listed.processes.every((p) => p.description.length > 10));

    const session = await t.bmdb.startSession();
    try {
      const [id] = await machines(session, 1);
      // Work of a test-only process (the BMDB's contract tests): counted nowhere an operator looks.
      await session.work(Process.UnitTest1, () => Promise.resolve([id]));
      const overview = (await call(s, "GET", "/overview")).json as { counts: { activeWork: Record<string, number> } };
      assert.deepEqual(Object.keys(overview.counts.activeWork).sort(), [
        "PowerAction",
        "ShepherdAgentStart",
        "ShepherdRecovery",
      ]);
      const filtered = await call(s, "GET", "/machines?process=UnitTest1");
      assert.equal(filtered.status, 400);
      assert.deepEqual((filtered.json as { field: string }).field, "process");
      const cancel = await call(s, "POST", "/work/cancel", { body: { machineId: id, process: "UnitTest1" } });
      assert.equal(cancel.status, 400);
      const metrics = await fetch(`${s.url}/metrics`, { headers: s.auth() });
      assert.doesNotMatch(await metrics.text(), /UnitTest/);
    } finally {
      await session.close();
    }
  },
);
