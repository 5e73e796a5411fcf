/**
 * The agent against a small real HTTP server that checks signatures and
 * replays as the agent API does and answers per a script: heartbeats and the
 * hardware report, retries, the takeover race (401/404 before the key is
 * recorded), supersession, the accept grace, prompt stops; the hardware
 * collector on this machine and on a fake /proc and /sys; and the bundled
 * program, which must detach and keep heartbeating after its parent exits.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  Agent,
  AGENT_API_PREFIX,
  AGENT_PROTOCOL,
  type AgentOptions,
  collectHardwareReport,
  exportPublicKey,
  fromBase64,
  generateAgentKeys,
  type HardwareReport,
  SIGNATURE_HEADER,
  simulatedHardwareReport,
  type TakeoverInit,
  verifyRequest,
} from "../../agent/mod.ts";
import { waitFor, within } from "../harness/wait.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };
const REPO_ROOT = new URL("../../", import.meta.url);
const ISO_WITH_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HARDWARE: HardwareReport = simulatedHardwareReport("00000000-0000-4000-8000-000000000001");

/** One request the fake agent API received, and what it answered. */
interface Received {
  endpoint: string;
  body: { machineId: string; sentAt: string; report?: HardwareReport };
  bytes: Uint8Array;
  signature: string;
  status: number;
}

/**
 * The agent API as the server implements it, in miniature: 404 while no key
 * is recorded, 401 for a signature by another key, 409 for a sentAt not after
 * the last accepted one, else 204. `script` may answer first (503, 409, …);
 * `stall` holds answers until it resolves.
 */
class FakeAgentApi implements AsyncDisposable {
  /** The key "recorded in the BMDB"; undefined: no agent recorded (404). */
  key: Uint8Array | undefined;
  script: ((request: Omit<Received, "status">, received: Received[]) => number | undefined) | undefined;
  stall: PromiseWithResolvers<void> | undefined;
  readonly received: Received[] = [];
  readonly url: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  #lastAcceptedMs = 0;
  #waiters = new Set<() => void>();

  constructor() {
    this.#server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => this.#handle(req));
    this.url = `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Requests to `endpoint` answered `status` (any status when omitted). */
  count(endpoint: string, status?: number): number {
    return this.received.filter((r) => r.endpoint === endpoint && (status === undefined || r.status === status))
      .length;
  }

  /** Resolves once `check` holds after some request (at once if it holds now); fails after 10 s. */
  async until(check: () => boolean, what: string): Promise<void> {
    if (check()) return;
    let wake = () => {};
    const settled = new Promise<void>((resolve) => {
      wake = () => check() && resolve();
      this.#waiters.add(wake);
    });
    try {
      await within(settled, 10_000, `${what} (received: ${this.received.map((r) => r.status).join(",")})`);
    } finally {
      this.#waiters.delete(wake);
    }
  }

  async #handle(req: Request): Promise<Response> {
    const path = new URL(req.url).pathname;
    const bytes = new Uint8Array(await req.arrayBuffer());
    const request = {
      endpoint: path.slice(AGENT_API_PREFIX.length),
      body: JSON.parse(new TextDecoder().decode(bytes)),
      bytes,
      signature: req.headers.get(SIGNATURE_HEADER) ?? "",
    };
    let status = this.script?.(request, this.received);
    if (status === undefined) {
      const sentAtMs = Date.parse(request.body.sentAt);
      if (this.key === undefined) status = 404;
      else if (!await verifyRequest(this.key, path, bytes, request.signature)) status = 401;
      else if (!(sentAtMs > this.#lastAcceptedMs)) status = 409;
      else status = 204;
      if (status === 204) this.#lastAcceptedMs = sentAtMs;
    }
    this.received.push({ ...request, status });
    for (const wake of this.#waiters) wake();
    await this.stall?.promise;
    return status === 204 ? new Response(null, { status }) : Response.json({ error: `scripted ${status}` }, { status });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.stall?.resolve();
    await this.#server.shutdown();
  }
}

function initFor(api: FakeAgentApi, patch: Partial<TakeoverInit> = {}): TakeoverInit {
  return { machineId: crypto.randomUUID(), agentUrl: api.url, heartbeatIntervalSeconds: 1, ...patch };
}

async function makeAgent(api: FakeAgentApi, options: Partial<AgentOptions> = {}, init = initFor(api)) {
  const lines: string[] = [];
  const agent = await Agent.create(init, {
    hardware: () => Promise.resolve(HARDWARE),
    retryMs: 20,
    log: (line) => lines.push(line),
    ...options,
  });
  return { agent, lines };
}

/** Runs `agent` until disposed (which stops it and waits for the end). */
function start(agent: Agent) {
  const stop = new AbortController();
  const exit = agent.run(stop.signal);
  return {
    exit,
    stop,
    async [Symbol.asyncDispose]() {
      stop.abort(new Error("test over"));
      await exit;
    },
  };
}

async function signedBy(publicKey: Uint8Array, r: Received): Promise<boolean> {
  return await verifyRequest(publicKey, AGENT_API_PREFIX + r.endpoint, r.bytes, r.signature);
}

Deno.test("Agent heartbeats at once and then every interval, signed with its takeover key, sentAt increasing", {
  ...sanitized,
}, async () => {
  await using api = new FakeAgentApi();
  const { agent } = await makeAgent(api);
  api.key = agent.publicKey;
  const startedMs = performance.now();
  await using run = start(agent);

  await api.until(() => api.count("/heartbeat", 204) >= 1, "a first heartbeat");
  assert.ok(performance.now() - startedMs < 900, "the first heartbeat does not wait for the interval");
  await api.until(() => api.count("/heartbeat", 204) >= 3, "three heartbeats");
  const elapsedMs = performance.now() - startedMs;
  assert.ok(elapsedMs >= 1900, `three heartbeats 1 s apart take about 2 s, not ${elapsedMs} ms`);

  const heartbeats = api.received.filter((r) => r.endpoint === "/heartbeat");
  const sentAts = heartbeats.map((r) => r.body.sentAt);
  for (const r of heartbeats) {
    assert.ok(await signedBy(agent.publicKey, r), "signed with the takeover key");
    assert.equal(r.body.machineId, agent.machineId);
    assert.match(r.body.sentAt, ISO_WITH_MS);
  }
  for (let i = 1; i < sentAts.length; i++) assert.ok(sentAts[i] > sentAts[i - 1], `sentAt increases: ${sentAts}`);
  assert.equal(agent.takeoverReply().protocol, AGENT_PROTOCOL);
  assert.deepEqual(fromBase64(agent.takeoverReply().agentPublicKey), agent.publicKey);
  await waitFor(() => agent.heartbeatsAccepted >= 3, { what: "the agent to count three acceptances" });
  assert.equal(await Promise.race([run.exit, "running"]), "running");
});

Deno.test("Agent sends the hardware report once, retrying it after a 503", sanitized, async () => {
  await using api = new FakeAgentApi();
  const { agent } = await makeAgent(api);
  api.key = agent.publicKey;
  api.script = (r) => r.endpoint === "/hardware-report" && api.count("/hardware-report") === 0 ? 503 : undefined;
  await using _run = start(agent);

  await api.until(() => api.count("/hardware-report", 204) === 1, "the report accepted");
  const acceptedHeartbeats = api.count("/heartbeat", 204);
  await api.until(() => api.count("/heartbeat", 204) > acceptedHeartbeats, "a heartbeat after the report");

  const reports = api.received.filter((r) => r.endpoint === "/hardware-report");
  assert.deepEqual(reports.map((r) => r.status), [503, 204], "one 503, one retry, nothing after acceptance");
  assert.deepEqual(reports[1].body.report, HARDWARE);
  assert.ok(await signedBy(agent.publicKey, reports[1]));
  assert.equal(agent.hardwareReportAccepted, true);
  assert.match(agent.lastError ?? "", /hardware report: HTTP 503/);
});

Deno.test("Agent retries 404 and 401 until its key is recorded (the takeover race)", sanitized, async () => {
  await using api = new FakeAgentApi();
  const { agent, lines } = await makeAgent(api);
  await using run = start(agent);

  await api.until(() => api.count("/heartbeat", 404) >= 2, "404s while no agent is recorded");
  api.key = await exportPublicKey((await generateAgentKeys()).publicKey); // the previous agent's key
  await api.until(() => api.count("/heartbeat", 401) >= 2, "401s while the old key is recorded");
  api.key = agent.publicKey;
  await api.until(() => api.count("/heartbeat", 204) >= 1, "acceptance once our key is recorded");

  // The server counts before its answer reaches the agent.
  await waitFor(() => agent.heartbeatsAccepted === 1, { what: "the agent to count the acceptance" });
  assert.equal(await Promise.race([run.exit, "running"]), "running");
  assert.equal(lines.filter((l) => l.includes("HTTP 404")).length, 1, `a 404 storm is one log line: ${lines}`);
  assert.ok(lines.some((l) => l.includes("accepted: the server knows this agent's key")), `${lines}`);
});

for (const [status, recorded] of [[401, "another agent's key"], [404, "no agent"]] as const) {
  Deno.test(
    `Agent stops as superseded on ${status} (${recorded} recorded) after an acceptance`,
    sanitized,
    async () => {
      await using api = new FakeAgentApi();
      const { agent, lines } = await makeAgent(api);
      api.key = agent.publicKey;
      await using run = start(agent);
      await api.until(() => api.count("/hardware-report", 204) === 1, "an accepted heartbeat and report");

      api.key = status === 401 ? await exportPublicKey((await generateAgentKeys()).publicKey) : undefined;
      assert.equal(await within(run.exit, 5000, "superseded"), "superseded");
      assert.equal(api.received.at(-1)?.status, status);
      assert.match(agent.lastError ?? "", new RegExp(`HTTP ${status}`));
      assert.ok(lines.some((l) => l.includes("superseded")), `${lines}`);
    },
  );
}

Deno.test("Agent gives up as never accepted when the grace runs out", sanitized, async () => {
  await using api = new FakeAgentApi();
  const { agent, lines } = await makeAgent(api, { acceptGraceMs: 300 });
  const startedMs = performance.now();
  await using run = start(agent);

  assert.equal(await within(run.exit, 5000, "never accepted"), "never accepted");
  const elapsedMs = performance.now() - startedMs;
  assert.ok(elapsedMs >= 300 && elapsedMs < 2000, `gave up after ${elapsedMs} ms`);
  assert.ok(api.count("/heartbeat", 404) >= 3, "kept retrying every retryMs meanwhile");
  assert.equal(api.count("/hardware-report"), 0, "the report waits for an acceptance");
  assert.match(agent.lastError ?? "", /heartbeat: HTTP 404: scripted 404/);
  assert.match(lines.at(-1) ?? "", /never accepted within 300 ms/);
});

Deno.test("Agent retries a network error, a 503 and a 409 replay soon, with a later sentAt", sanitized, async () => {
  await using api = new FakeAgentApi();
  let calls = 0;
  const flakyFetch: typeof fetch = (input, init) => {
    if (++calls === 1) return Promise.reject(new TypeError("connection refused (scripted)"));
    return fetch(input, init);
  };
  const { agent } = await makeAgent(api, { fetch: flakyFetch });
  api.key = agent.publicKey;
  const scripted = [503, 409];
  api.script = () => scripted.shift();
  const startedMs = performance.now();
  await using _run = start(agent);

  await api.until(() => api.count("/heartbeat", 204) >= 1, "acceptance after the failures");
  assert.ok(performance.now() - startedMs < 900, "failures are retried after retryMs, not the interval");
  const heartbeats = api.received.filter((r) => r.endpoint === "/heartbeat");
  assert.deepEqual(heartbeats.map((r) => r.status).slice(0, 3), [503, 409, 204]);
  assert.ok(heartbeats[2].body.sentAt > heartbeats[1].body.sentAt, "the retry after 409 carries a later sentAt");
  assert.equal(calls >= 4, true, "the network error was one call too");
});

Deno.test("Agent.run resolves stopped promptly when aborted while waiting", sanitized, async () => {
  await using api = new FakeAgentApi();
  const { agent } = await makeAgent(api, {}, initFor(api, { heartbeatIntervalSeconds: 3600 }));
  api.key = agent.publicKey;
  await using run = start(agent);
  await api.until(() => api.count("/hardware-report", 204) === 1, "heartbeat and report");

  run.stop.abort(new Error("test"));
  assert.equal(await within(run.exit, 500, "stopped while waiting an hour"), "stopped");
});

Deno.test("Agent.run resolves stopped promptly when aborted during a request", sanitized, async () => {
  await using api = new FakeAgentApi();
  const { agent } = await makeAgent(api);
  api.key = agent.publicKey;
  api.stall = Promise.withResolvers();
  await using run = start(agent);
  await api.until(() => api.received.length === 1, "a request the server holds");

  run.stop.abort(new Error("test"));
  assert.equal(await within(run.exit, 500, "stopped during a request"), "stopped");
  assert.equal(await agent.run(AbortSignal.abort()), "stopped", "run() may be called again once it has ended");
});

Deno.test("Agent times out a request that gets no answer and retries it", sanitized, async () => {
  await using api = new FakeAgentApi();
  const { agent } = await makeAgent(api, { requestTimeoutMs: 100 });
  api.key = agent.publicKey;
  api.stall = Promise.withResolvers();
  await using _run = start(agent);
  await api.until(() => api.received.length >= 2, "a retry after the first request timed out");
  assert.match(agent.lastError ?? "", /no answer within 100 ms/);
  api.stall.resolve();
});

Deno.test("Agent.create rejects bad init fields and options, naming the field", sanitized, async () => {
  const good: TakeoverInit = {
    machineId: crypto.randomUUID(),
    agentUrl: "http://10.0.0.1:8080",
    heartbeatIntervalSeconds: 5,
  };
  const hardware = () => Promise.resolve(HARDWARE);
  const cases: [unknown, RegExp][] = [
    [{ ...good, machineId: "machine-1" }, /machineId must be a UUID: current value is "machine-1"/],
    [{ ...good, machineId: undefined }, /machineId must be a UUID/],
    [{ ...good, agentUrl: "ftp://10.0.0.1" }, /agentUrl must be an http\(s\) URL/],
    [{ ...good, agentUrl: "not a url" }, /agentUrl must be an http\(s\) URL/],
    [{ ...good, heartbeatIntervalSeconds: 0 }, /heartbeatIntervalSeconds must be an integer from 1 to 3600/],
    [{ ...good, heartbeatIntervalSeconds: 3601 }, /heartbeatIntervalSeconds/],
    [{ ...good, heartbeatIntervalSeconds: 1.5 }, /heartbeatIntervalSeconds/],
    [{ ...good, heartbeatIntervalSeconds: "5" }, /heartbeatIntervalSeconds/],
    [null, /must be a JSON object/],
  ];
  for (const [init, message] of cases) {
    await assert.rejects(Agent.create(init as TakeoverInit, { hardware }), message, JSON.stringify(init));
  }
  await assert.rejects(Agent.create(good, { hardware, retryMs: 0 }), /retryMs must be a number >= 1/);
  await assert.rejects(Agent.create(good, { hardware, acceptGraceMs: -1 }), /acceptGraceMs/);
  await assert.rejects(Agent.create(good, { hardware, requestTimeoutMs: NaN }), /requestTimeoutMs/);
  await assert.rejects(Agent.create(good, {} as AgentOptions), /options.hardware must be a function/);
  const agent = await Agent.create(good, { hardware });
  assert.equal(agent.publicKey.length, 32);
});

Deno.test("Agent.exportState/fromState carry the key to another process", sanitized, async () => {
  await using api = new FakeAgentApi();
  const { agent } = await makeAgent(api);
  const state = JSON.parse(JSON.stringify(await agent.exportState()));
  const revived = await Agent.fromState(state, { hardware: () => Promise.resolve(HARDWARE), retryMs: 20 });
  assert.deepEqual(revived.publicKey, agent.publicKey);
  assert.deepEqual(revived.takeoverReply(), agent.takeoverReply());
  assert.equal(revived.machineId, agent.machineId);

  api.key = agent.publicKey; // the key the takeover reply announced
  await using _run = start(revived);
  await api.until(() => api.count("/heartbeat", 204) >= 1, "the revived agent's heartbeat accepted");

  const other = await (await makeAgent(api)).agent.exportState();
  const hardware = () => Promise.resolve(HARDWARE);
  await assert.rejects(Agent.fromState({ ...state, publicKey: other.publicKey }, { hardware }), /not a pair/);
  await assert.rejects(Agent.fromState({ ...state, protocol: "x" }, { hardware }), /protocol/);
  await assert.rejects(Agent.fromState({ ...state, privateKey: "!" }, { hardware }), /privateKey/);
  await assert.rejects(Agent.fromState({ ...state, init: {} }, { hardware }), /machineId/);
});

Deno.test("collectHardwareReport() reads this machine", sanitized, async () => {
  const report = await collectHardwareReport();
  assert.equal(report.simulated, false);
  assert.ok(report.cpu.cores >= 1, `cores: ${report.cpu.cores}`);
  assert.ok(report.cpu.threads >= report.cpu.cores);
  assert.ok(report.memoryBytes > 0);
  const blockDevices = [...Deno.readDirSync("/sys/block")].filter((e) => !/^(loop|ram|zram)\d/.test(e.name));
  const nics = [...Deno.readDirSync("/sys/class/net")].filter((e) => e.name !== "lo");
  assert.equal(report.disks.length, blockDevices.length);
  assert.equal(report.nics.length, nics.length);
  assert.ok(report.disks.length + report.nics.length >= 1, "this machine has a disk or a NIC");
  assert.ok(report.disks.every((d) => d.sizeBytes % 512 === 0));
});

Deno.test("collectHardwareReport() parses /proc and /sys, skipping loop, ram, zram and lo", sanitized, async () => {
  const root = await Deno.makeTempDir({ prefix: "drover-hw-" });
  try {
    const files: Record<string, string> = {
      "proc/cpuinfo": [0, 1, 2, 3].map((i) =>
        `processor\t: ${i}\nmodel name\t: Test CPU 9000\nphysical id\t: 0\ncore id\t\t: ${i % 2}\n`
      ).join("\n"),
      "proc/meminfo": "MemTotal:        1024 kB\nMemFree:  12 kB\n",
      "sys/block/sda/size": "2000\n",
      "sys/block/sda/device/model": "ST8000NM017B    \n",
      "sys/block/sda/queue/rotational": "1\n",
      "sys/block/nvme0n1/size": "100\n",
      "sys/block/nvme0n1/queue/rotational": "0\n",
      "sys/block/loop0/size": "8\n",
      "sys/block/ram0/size": "8\n",
      "sys/block/zram0/size": "8\n",
      "sys/class/net/lo/address": "00:00:00:00:00:00\n",
      "sys/class/net/eth0/address": "aa:bb:cc:dd:ee:01\n",
      "sys/class/net/eth0/speed": "25000\n",
      "sys/class/net/eth1/address": "aa:bb:cc:dd:ee:02\n",
      "sys/class/net/eth1/speed": "-1\n",
      "sys/class/net/eth2/address": "\n",
    };
    for (const [path, text] of Object.entries(files)) {
      await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${path}`, text);
    }
    assert.deepEqual(await collectHardwareReport({ root }), {
      cpu: { model: "Test CPU 9000", cores: 2, threads: 4 },
      memoryBytes: 1024 * 1024,
      disks: [
        { name: "nvme0n1", sizeBytes: 100 * 512, model: null, rotational: false },
        { name: "sda", sizeBytes: 2000 * 512, model: "ST8000NM017B", rotational: true },
      ],
      nics: [
        { name: "eth0", mac: "aa:bb:cc:dd:ee:01", speedMbps: 25000 },
        { name: "eth1", mac: "aa:bb:cc:dd:ee:02", speedMbps: null },
        { name: "eth2", mac: null, speedMbps: null },
      ],
      simulated: false,
    });

    const empty = await collectHardwareReport({ root: `${root}/nothing-here` });
    assert.deepEqual({ ...empty, cpu: { ...empty.cpu, cores: 0, threads: 0 } }, {
      cpu: { model: "", cores: 0, threads: 0 },
      memoryBytes: 0,
      disks: [],
      nics: [],
      simulated: false,
    }, "an unreadable tree degrades to empty values");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("simulatedHardwareReport() is plausible and the same for the same machine id", sanitized, () => {
  const id = crypto.randomUUID();
  const report = simulatedHardwareReport(id);
  assert.deepEqual(simulatedHardwareReport(id), report);
  assert.equal(report.simulated, true);
  assert.ok(report.cpu.cores >= 1 && report.cpu.threads >= report.cpu.cores && report.memoryBytes > 0);
  assert.ok(report.disks.length >= 1 && report.nics.length >= 1);
  for (const nic of report.nics) assert.match(nic.mac ?? "", /^02(:[0-9a-f]{2}){5}$/);
  const others = Array.from({ length: 20 }, () => JSON.stringify(simulatedHardwareReport(crypto.randomUUID())));
  assert.ok(new Set(others).size > 1, "different machines get different reports");
});

/** Runs a deno program with `stdin` and returns its exit code, stdout and stderr. */
async function runProgram(args: string[], stdin: string, env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  // The program may stop reading early (bad or oversized input): a broken pipe is its answer, not ours.
  await writer.write(new TextEncoder().encode(stdin)).catch(() => {});
  await writer.close().catch(() => {});
  const output = await child.output();
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

Deno.test("the agent program rejects bad stdin with exit 2, naming what was wrong", sanitized, async () => {
  const program = ["run", "--allow-all", "--no-config", "agent/main.ts", "--foreground"];
  const init = { machineId: crypto.randomUUID(), agentUrl: "http://127.0.0.1:1", heartbeatIntervalSeconds: 0 };
  const cases: [string, RegExp][] = [
    [JSON.stringify(init), /heartbeatIntervalSeconds must be an integer/],
    ["", /stdin: empty/],
    ["{not json", /stdin: not JSON/],
    ["[]", /must be a JSON object/],
    [" ".repeat(70 * 1024), /stdin: more than 65536 bytes/],
  ];
  for (const [stdin, message] of cases) {
    const { code, stdout, stderr } = await runProgram(program, stdin);
    assert.equal(code, 2, `${stdin.slice(0, 40)}: ${stderr}`);
    assert.match(stderr, message);
    assert.equal(stdout, "", "no reply on bad input");
  }
});

Deno.test("the bundled agent detaches: its parent exits 0 and the daemon keeps heartbeating", sanitized, async () => {
  await using api = new FakeAgentApi();
  const dir = await Deno.makeTempDir({ prefix: "drover-agent-" });
  let daemonPid: number | undefined;
  try {
    const bundle = `${dir}/drover-agent.js`;
    const build = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--platform", "deno", "--quiet", "-o", bundle, "agent/main.ts"],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));

    const init = initFor(api);
    const parent = await runProgram(["run", "--allow-all", "--no-config", bundle], JSON.stringify(init) + "\n");
    assert.equal(parent.code, 0, parent.stderr);
    const lines = parent.stdout.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, `one reply line: ${parent.stdout}`);
    const reply = JSON.parse(lines[0]);
    assert.equal(reply.protocol, AGENT_PROTOCOL);
    const publicKey = fromBase64(reply.agentPublicKey);
    assert.equal(publicKey?.length, 32);
    daemonPid = Number(await Deno.readTextFile(`${dir}/drover-agent.pid`));
    assert.ok(daemonPid > 0);
    assert.equal(((await Deno.stat(`${dir}/drover-agent.state.json`)).mode ?? 0) & 0o777, 0o600);

    // Now the initializer records the key; the daemon's 404s turn into acceptances.
    api.key = publicKey;
    await api.until(() => api.count("/heartbeat", 204) >= 2, "two heartbeats from the daemon");
    await api.until(() => api.count("/hardware-report", 204) === 1, "the daemon's hardware report");
    for (const r of api.received.filter((r) => r.status === 204)) {
      assert.ok(publicKey && await signedBy(publicKey, r), "signed with the reply's key");
      assert.equal(r.body.machineId, init.machineId);
    }
    const report = api.received.find((r) => r.endpoint === "/hardware-report" && r.status === 204)?.body.report;
    assert.equal(report?.simulated, false);
    assert.ok((report?.cpu.cores ?? 0) >= 1);

    // Own session (setsid), no controlling terminal: fields 6 and 7 of /proc/<pid>/stat.
    const stat = (await Deno.readTextFile(`/proc/${daemonPid}/stat`)).split(") ")[1].split(" ");
    assert.equal(Number(stat[3]), daemonPid, "the daemon leads its own session");
    assert.equal(Number(stat[4]), 0, "the daemon has no controlling terminal");

    Deno.kill(daemonPid, "SIGTERM");
    const log = `${dir}/drover-agent.log`;
    // Nothing emits an event across processes: poll the daemon's log.
    await waitFor(async () => /exit: stopped/.test(await Deno.readTextFile(log)), { what: "the daemon's exit" });
    const text = await Deno.readTextFile(log);
    assert.match(text, /daemon started/);
    assert.match(text, /heartbeat accepted: the server knows this agent's key/);
    daemonPid = undefined;
  } finally {
    if (daemonPid !== undefined) {
      try {
        Deno.kill(daemonPid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await Deno.remove(dir, { recursive: true });
  }
});
