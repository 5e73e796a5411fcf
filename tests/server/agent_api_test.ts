/**
 * The agent API over HTTP on a real BMDB: signed heartbeats and hardware
 * reports are recorded; every bad request (malformed body, bad or missing
 * signature, unknown machine, no agent, stale or replayed request, a
 * superseded agent, an oversized body) gets its status and a clear message,
 * and changes nothing.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { ProviderStatus } from "../../bmdb/mod.ts";
import {
  AGENT_API_PREFIX,
  exportPublicKey,
  generateAgentKeys,
  type HardwareReport,
  SIGNATURE_HEADER,
  signRequest,
} from "../../agent/mod.ts";
import { listen, serverApp } from "../../server/mod.ts";
import { bmdbTest, type TestBmdb } from "../harness/bmdb.ts";
import { quietLogger } from "../harness/quiet_logger.ts";

const encoder = new TextEncoder();

const REPORT: HardwareReport = {
  cpu: { model: "AMD EPYC 7402P", cores: 24, threads: 48 },
  memoryBytes: 64 * 2 ** 30,
  disks: [{ name: "nvme0n1", sizeBytes: 480e9, model: "Micron 5300", rotational: false }],
  nics: [{ name: "enp65s0f0", mac: "b4:96:91:00:00:01", speedMbps: 25000 }],
  simulated: false,
};

/** A machine with an agent recorded, and a client that signs as that agent. */
async function machineWithAgent(t: TestBmdb) {
  const keys = await generateAgentKeys();
  const publicKey = await exportPublicKey(keys.publicKey);
  const session = await t.bmdb.startSession();
  const machineId = await session.transact(async (q) => {
    const { machineId } = await q.newMachine();
    await q.machineAddProvided({
      machineId,
      provider: "Equinix",
      providerId: crypto.randomUUID(),
      providerStatus: ProviderStatus.Running,
    });
    await q.machineSetAgentStarted({ machineId, agentStartedAt: new Date(), agentPublicKey: publicKey });
    return machineId;
  });
  await session.close();
  return { machineId, keys, publicKey };
}

function startServer(t: TestBmdb) {
  const registry = new Registry();
  const server = listen(serverApp({ bmdb: t.bmdb, logger: quietLogger, registry }), {
    hostname: "127.0.0.1",
    port: 0,
  });
  return { server, registry };
}

/** POSTs `body` (an object, or raw text) to an agent endpoint, signed by `key` unless `signature` is given. */
async function post(
  url: string,
  endpoint: string,
  body: unknown,
  { key, signature, signedPath }: { key?: CryptoKey; signature?: string | null; signedPath?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> | null }> {
  const bytes = encoder.encode(typeof body === "string" ? body : JSON.stringify(body));
  const path = AGENT_API_PREFIX + endpoint;
  const headers: Record<string, string> = { "content-type": "application/json" };
  const sig = signature !== undefined ? signature : key ? await signRequest(key, signedPath ?? path, bytes) : null;
  if (sig !== null) headers[SIGNATURE_HEADER] = sig;
  const response = await fetch(url + path, { method: "POST", headers, body: bytes });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function heartbeatAt(t: TestBmdb, machineId: string): Promise<string | null> {
  const rows = await t.sql(
    "SELECT agent_heartbeat_at FROM machine_agent_heartbeat WHERE machine_id = $1",
    [machineId],
  );
  return rows.length === 0 ? null : (rows[0].agent_heartbeat_at as Date).toISOString();
}

bmdbTest("a signed heartbeat and hardware report are recorded; a replay of either is refused", async (t) => {
  const { machineId, keys } = await machineWithAgent(t);
  await using _ = startServer(t).server;
  const { url } = _;

  const first = { machineId, sentAt: new Date().toISOString() };
  assert.deepEqual(await post(url, "/heartbeat", first, { key: keys.privateKey }), { status: 204, json: null });
  assert.equal(await heartbeatAt(t, machineId), first.sentAt);

  // The very same request again: a replay.
  const replay = await post(url, "/heartbeat", first, { key: keys.privateKey });
  assert.equal(replay.status, 409);
  assert.match(String(replay.json?.error), /replayed request: sentAt is not later/);
  // An older, validly signed one: also refused.
  const older = { machineId, sentAt: new Date(Date.parse(first.sentAt) - 1000).toISOString() };
  assert.equal((await post(url, "/heartbeat", older, { key: keys.privateKey })).status, 409);
  assert.equal(await heartbeatAt(t, machineId), first.sentAt, "unchanged by the refused requests");

  const report = { machineId, sentAt: new Date(Date.parse(first.sentAt) + 1).toISOString(), report: REPORT };
  assert.equal((await post(url, "/hardware-report", report, { key: keys.privateKey })).status, 204);
  const stored = await t.sql("SELECT hardware_report_raw FROM machine_hardware_report WHERE machine_id = $1", [
    machineId,
  ]);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(stored[0].hardware_report_raw as Uint8Array)), REPORT);
  assert.equal(await heartbeatAt(t, machineId), report.sentAt, "a report is proof of life too");
  assert.equal((await post(url, "/hardware-report", report, { key: keys.privateKey })).status, 409);
});

bmdbTest("bad signatures, unknown machines and machines without an agent are refused and change nothing", async (t) => {
  const { machineId, keys } = await machineWithAgent(t);
  const stranger = await generateAgentKeys();
  const { server, registry } = startServer(t);
  await using _ = server;
  const body = () => ({ machineId, sentAt: new Date().toISOString() });

  const missing = await post(server.url, "/heartbeat", body(), { signature: null });
  assert.deepEqual(missing, { status: 401, json: { error: `missing ${SIGNATURE_HEADER} header` } });
  const wrongKey = await post(server.url, "/heartbeat", body(), { key: stranger.privateKey });
  assert.equal(wrongKey.status, 401);
  assert.match(
    String(wrongKey.json?.error),
    new RegExp(`does not verify with the agent key recorded for machine ${machineId}`),
  );
  const garbage = await post(server.url, "/heartbeat", body(), { signature: "not base64!" });
  assert.equal(garbage.status, 401);
  // A valid signature for another endpoint: the path is signed too.
  const otherPath = await post(server.url, "/heartbeat", body(), {
    key: keys.privateKey,
    signedPath: AGENT_API_PREFIX + "/hardware-report",
  });
  assert.equal(otherPath.status, 401);
  assert.equal(await heartbeatAt(t, machineId), null, "nothing recorded");

  const unknown = crypto.randomUUID();
  const notKnown = await post(server.url, "/heartbeat", { machineId: unknown, sentAt: new Date().toISOString() }, {
    key: keys.privateKey,
  });
  assert.deepEqual(notKnown, { status: 404, json: { error: `machine ${unknown} is not known` } });

  const session = await t.bmdb.startSession();
  const bare = await session.transact(async (q) => (await q.newMachine()).machineId);
  await session.close();
  const noAgent = await post(server.url, "/heartbeat", { machineId: bare, sentAt: new Date().toISOString() }, {
    key: keys.privateKey,
  });
  assert.deepEqual(noAgent, { status: 404, json: { error: `no agent is recorded for machine ${bare}` } });
  assert.equal(await heartbeatAt(t, bare), null);

  const metrics = await registry.metrics();
  assert.match(metrics, /drover_agent_requests_total\{endpoint="\/heartbeat",status="401"\} 4/);
  assert.match(metrics, /drover_agent_requests_total\{endpoint="\/heartbeat",status="404"\} 2/);
});

bmdbTest("malformed bodies get 400 naming the field, oversized ones 413, and change nothing", async (t) => {
  const { machineId, keys } = await machineWithAgent(t);
  await using server = startServer(t).server;
  const sentAt = new Date().toISOString();
  const cases: [string, string, unknown, string | undefined, RegExp][] = [
    ["not JSON", "/heartbeat", "{machineId:", undefined, /^body is not JSON/],
    ["machine id not a UUID", "/heartbeat", { machineId: "m-1", sentAt }, "machineId", /must be a UUID/],
    ["no sentAt", "/heartbeat", { machineId }, "sentAt", /^sentAt: /],
    ["sentAt without offset", "/heartbeat", { machineId, sentAt: sentAt.slice(0, -1) }, "sentAt", /ISO 8601/],
    ["an unknown field", "/heartbeat", { machineId, sentAt, extra: 1 }, undefined, /extra/],
    ["an array", "/heartbeat", [machineId, sentAt], undefined, /expected object/],
    [
      "negative cores",
      "/hardware-report",
      { machineId, sentAt, report: { ...REPORT, cpu: { ...REPORT.cpu, cores: -1 } } },
      "report.cpu.cores",
      /^report\.cpu\.cores: /,
    ],
    ["no report", "/hardware-report", { machineId, sentAt }, "report", /^report: /],
  ];
  for (const [what, endpoint, body, field, message] of cases) {
    const answer = await post(server.url, endpoint, body, { key: keys.privateKey });
    assert.equal(answer.status, 400, what);
    assert.equal(answer.json?.field, field, what);
    assert.match(String(answer.json?.error), message, what);
  }
  const huge = await post(server.url, "/hardware-report", {
    machineId,
    sentAt,
    report: { ...REPORT, cpu: { ...REPORT.cpu, model: "x".repeat(300_000) } },
  }, { key: keys.privateKey });
  assert.deepEqual(huge, { status: 413, json: { error: "request body exceeds 262144 bytes" } });
  const unknownEndpoint = await fetch(server.url + AGENT_API_PREFIX + "/reboot", { method: "POST" });
  assert.equal(unknownEndpoint.status, 404);
  assert.match((await unknownEndpoint.json()).error, /no such endpoint: POST \/agent\/v1\/reboot/);
  assert.equal(await heartbeatAt(t, machineId), null, "nothing recorded");
  assert.equal((await t.sql("SELECT count(*)::int AS n FROM machine_hardware_report"))[0].n, 0);
});

bmdbTest("a request outside the clock skew is refused with 422 saying how far off it is", async (t) => {
  const { machineId, keys } = await machineWithAgent(t);
  await using server = startServer(t).server;
  const past = await post(server.url, "/heartbeat", {
    machineId,
    sentAt: new Date(Date.now() - 5 * 60_000).toISOString(),
  }, { key: keys.privateKey });
  assert.equal(past.status, 422);
  assert.equal(past.json?.field, "sentAt");
  assert.match(String(past.json?.error), /is 30\d s behind the server's clock; at most 60 s is allowed/);
  const future = await post(server.url, "/heartbeat", {
    machineId,
    sentAt: new Date(Date.now() + 120_000).toISOString(),
  }, { key: keys.privateKey });
  assert.equal(future.status, 422);
  assert.match(String(future.json?.error), /ahead of the server's clock/);
  assert.equal(await heartbeatAt(t, machineId), null);
});

bmdbTest("after the machine's agent is started again with a new key, the old agent is refused", async (t) => {
  const { machineId, keys } = await machineWithAgent(t);
  await using server = startServer(t).server;
  const sent = () => ({ machineId, sentAt: new Date().toISOString() });
  assert.equal((await post(server.url, "/heartbeat", sent(), { key: keys.privateKey })).status, 204);
  const accepted = await heartbeatAt(t, machineId);

  // Recovery and a new start: the key the server has kept is no longer the machine's.
  const next = await generateAgentKeys();
  await t.sql("UPDATE machine_agent_started SET agent_public_key = $2 WHERE machine_id = $1", [
    machineId,
    await exportPublicKey(next.publicKey),
  ]);
  const old = await post(server.url, "/heartbeat", sent(), { key: keys.privateKey });
  assert.equal(old.status, 401);
  assert.equal(await heartbeatAt(t, machineId), accepted, "unchanged");
  assert.equal((await post(server.url, "/heartbeat", sent(), { key: next.privateKey })).status, 204, "the new agent");
});

bmdbTest("concurrent heartbeats of many machines share statements and are all recorded", async (t) => {
  const machines = await Promise.all(Array.from({ length: 40 }, () => machineWithAgent(t)));
  await using server = startServer(t).server;
  const before = { ...t.bmdb.batches.agentReports };
  const sentAt = new Date().toISOString();
  const answers = await Promise.all(
    machines.map((m) => post(server.url, "/heartbeat", { machineId: m.machineId, sentAt }, { key: m.keys.privateKey })),
  );
  assert.deepEqual(answers.map((a) => a.status), machines.map(() => 204));
  const recorded = await t.sql("SELECT count(*)::int AS n FROM machine_agent_heartbeat WHERE agent_heartbeat_at = $1", [
    sentAt,
  ]);
  assert.equal(recorded[0].n, 40);
  const after = t.bmdb.batches.agentReports;
  assert.equal(after.requests - before.requests, 40);
  assert.ok(after.batches - before.batches < 40, `40 heartbeats took ${after.batches - before.batches} statements`);

  // The same request sent twice at once: exactly one is accepted.
  const m = machines[0];
  const twice = { machineId: m.machineId, sentAt: new Date(Date.parse(sentAt) + 1).toISOString() };
  const both = await Promise.all([1, 2].map(() => post(server.url, "/heartbeat", twice, { key: m.keys.privateKey })));
  assert.deepEqual(both.map((a) => a.status).sort(), [204, 409]);
});

bmdbTest("healthz answers ok", async (t) => {
  await using server = startServer(t).server;
  const response = await fetch(server.url + "/healthz");
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
});
