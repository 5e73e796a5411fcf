/**
 * SshAgentStarter against a real sshd (tests/harness/sshd.ts) and stub
 * agents: the agent is uploaded and answers with its key, directly and
 * through the initializer run by a LoopRunner on a real BMDB; a refusing,
 * silent or non-SSH host and a failing or babbling agent each fail at the
 * right stage with a clear message within their deadline (and, through the
 * runner, become Failed work with a backoff); an abort stops a start at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { utils } from "ssh2";
import { type Bmdb, type MachineProvided, Process, Provider, ProviderStatus } from "../../bmdb/mod.ts";
import type { TakeoverInit } from "../../agent/mod.ts";
import { Initializer, loopMetrics, LoopRunner, TokenBucket } from "../../loops/mod.ts";
// Not exported from loops/mod.ts yet.
import {
  AgentStartError,
  type AgentStartStage,
  defaultAgentCommand,
  shellQuote,
  SshAgentStarter,
  type SshAgentStarterOptions,
} from "../../loops/ssh_starter.ts";
import { existsSync } from "node:fs";
import { listen, serverApp } from "../../server/mod.ts";
import { bmdbTest, countRows, type TestBmdb } from "../harness/bmdb.ts";
import { freePort } from "../harness/free_port.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { fingerprint, type HostKeyPolicy } from "../../loops/mod.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { sshdRequirement, type SshServer, startSshd } from "../harness/sshd.ts";
import { waitFor, within } from "../harness/wait.ts";

const sshdAvailable = serviceAvailable(sshdRequirement);

/** What a stub agent does with the init it reads. */
type Behaviour = "reply" | "exit-3" | "not-json" | "hang";

/**
 * A stub agent: reads the init from stdin and acts as `behaviours` says for
 * its machine. Replying, it makes an ed25519 key and writes the init it got
 * and its key next to itself (`<file>.<machineId>.init.json`, `.key`).
 */
function stubAgent(behaviours: Record<string, Behaviour> = {}, fallback: Behaviour = "reply"): string {
  return `
const input = await new Response(Deno.stdin.readable).text();
const init = JSON.parse(input);
const behaviour = ${JSON.stringify(behaviours)}[init.machineId] ?? ${JSON.stringify(fallback)};
const here = import.meta.filename + "." + init.machineId;
if (behaviour === "exit-3") {
  console.error("agent: cannot reach " + init.agentUrl + ": connection refused");
  Deno.exit(3);
} else if (behaviour === "not-json") {
  console.log("Welcome to the machine!");
} else if (behaviour === "hang") {
  await Deno.writeTextFile(here + ".hanging", "");
  // Gone once the session is (stderr breaks), or after 30 s.
  setTimeout(() => Deno.exit(0), 30_000);
  setInterval(() => {
    try { Deno.stderr.writeSync(new Uint8Array([46])); } catch { Deno.exit(0); }
  }, 50);
} else {
  const keys = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", keys.publicKey));
  const key = btoa(String.fromCharCode(...raw));
  await Deno.writeTextFile(here + ".init.json", input);
  await Deno.writeTextFile(here + ".key", key);
  console.log(JSON.stringify({ protocol: "drover-agent/1", agentPublicKey: key }));
}
`;
}

interface Fixture extends AsyncDisposable {
  sshd: SshServer;
  /** The local stub agent. */
  agentPath: string;
  /** Where the starter puts it (an absolute path on the same host, inside the sshd's directory). */
  remotePath: string;
  starter(options?: Partial<SshAgentStarterOptions>): SshAgentStarter;
}

async function fixture(agentSource = stubAgent()): Promise<Fixture> {
  const sshd = await startSshd();
  const local = await Deno.makeTempDir({ prefix: "drover-agent-stub-" });
  const agentPath = `${local}/drover-agent.js`;
  await Deno.writeTextFile(agentPath, agentSource);
  const remotePath = `${sshd.dir}/drover-agent.js`;
  return {
    sshd,
    agentPath,
    remotePath,
    starter: (options = {}) =>
      new SshAgentStarter({
        privateKey: sshd.clientPrivateKey,
        agentPath,
        username: sshd.username,
        port: sshd.port,
        remotePath,
        connectTimeoutMs: 5000,
        uploadTimeoutMs: 5000,
        runTimeoutMs: 15_000,
        ...options,
      }),
    async [Symbol.asyncDispose]() {
      await sshd.stop();
      await Deno.remove(local, { recursive: true });
    },
  };
}

function machine(providerIpAddress: string | null, machineId: string = crypto.randomUUID()): MachineProvided {
  return {
    machineId,
    provider: Provider.Equinix,
    providerId: `eq-${machineId}`,
    providerReservationId: null,
    providerIpAddress,
    providerLocation: null,
    providerStatus: ProviderStatus.Running,
    providerBmc: null,
    providerHeldOffAt: null,
  };
}

function initFor(m: MachineProvided): TakeoverInit {
  return { machineId: m.machineId, agentUrl: "http://127.0.0.1:9/", heartbeatIntervalSeconds: 5 };
}

/**
 * A TCP server that is not sshd: it accepts and then says `greeting` (or
 * nothing at all) and never anything else.
 */
function fakeServer(hostname: string, port: number, greeting?: string): AsyncDisposable {
  const listener = Deno.listen({ hostname, port });
  const conns: Deno.Conn[] = [];
  const writes: Promise<unknown>[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        if (greeting !== undefined) writes.push(conn.write(new TextEncoder().encode(greeting)).catch(() => {}));
      }
    } catch { /* closed */ }
  })();
  return {
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.all(writes);
      for (const conn of conns) {
        try {
          conn.close();
        } catch { /* the client closed it */ }
      }
    },
  };
}

/** Asserts `promise` rejects with an AgentStartError of `stage` whose message matches `pattern`; returns it. */
async function rejectsAt(promise: Promise<unknown>, stage: AgentStartStage, pattern: RegExp): Promise<AgentStartError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof AgentStartError, `expected an AgentStartError, got ${error}`);
  assert.equal(error.stage, stage, error.message);
  assert.match(error.message, pattern);
  return error;
}

/** A file's permission bits. */
async function mode(path: string): Promise<number> {
  return ((await Deno.stat(path)).mode ?? 0) & 0o777;
}

/** Runs `fn` and returns how long it took in ms. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

const never = new AbortController().signal;

function sshTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, ignore: !sshdAvailable, sanitizeOps: true, sanitizeResources: true, fn });
}

// ---- Options and commands (no sshd needed) ----

Deno.test("defaultAgentCommand() runs a .js file with deno and anything else as itself, shell-quoted", () => {
  const cases: [string, string][] = [
    ["drover-agent.js", `deno run --allow-all --no-config 'drover-agent.js'`],
    ["/opt/it's here/agent.js", `deno run --allow-all --no-config '/opt/it'\\''s here/agent.js'`],
    ["drover-agent", `'./drover-agent'`],
    ["bin/drover agent", `'bin/drover agent'`],
  ];
  for (const [path, command] of cases) assert.equal(defaultAgentCommand(path), command, path);
  assert.equal(shellQuote(`a'b`), `'a'\\''b'`);
});

Deno.test("new SshAgentStarter() names the option and the bad value", () => {
  const good = {
    privateKey: new TextEncoder().encode(utils.generateKeyPairSync("ed25519").private),
    agentPath: "a.js",
  };
  const cases: [Partial<SshAgentStarterOptions>, RegExp][] = [
    [
      { privateKey: new TextEncoder().encode("not a key") },
      /privateKey is not a usable OpenSSH private key .*: current value is 9 bytes$/,
    ],
    [{ agentPath: "" }, /agentPath must be a non-empty string: current value is ""$/],
    [{ port: 0 }, /port must be an integer in 1\.\.65535: current value is 0$/],
    [{ port: 22.5 }, /port must be an integer in 1\.\.65535: current value is 22\.5$/],
    [{ username: "root@host" }, /username must match .*: current value is "root@host"$/],
    [{ remotePath: "agents/" }, /remotePath must match .*: current value is "agents\/"$/],
    [{ connectTimeoutMs: 0 }, /connectTimeoutMs must be an integer >= 1: current value is 0$/],
    [{ uploadTimeoutMs: -5 }, /uploadTimeoutMs must be an integer >= 1: current value is -5$/],
    [{ runTimeoutMs: Infinity }, /runTimeoutMs must be an integer >= 1: current value is Infinity$/],
    [{ maxReplyBytes: 10 }, /maxReplyBytes must be an integer >= 64: current value is 10$/],
    [{ command: () => "" }, /command\(remotePath\) must be a non-empty string: current value is ""$/],
  ];
  assert.doesNotThrow(() => new SshAgentStarter(good));
  for (const [override, pattern] of cases) {
    assert.throws(() => new SshAgentStarter({ ...good, ...override }), (e: Error) => {
      assert.ok(e instanceof TypeError || e instanceof RangeError, `${e}`);
      assert.match(e.message, /^Cannot create SshAgentStarter: /);
      assert.match(e.message, pattern);
      return true;
    });
  }
});

Deno.test("start() fails at the dial stage for a machine without an IP address, and at upload for a missing agent file", async () => {
  const privateKey = new TextEncoder().encode(utils.generateKeyPairSync("ed25519").private);
  const starter = new SshAgentStarter({ privateKey, agentPath: "/nonexistent/drover-agent.js" });
  const m = machine(null);
  await rejectsAt(
    starter.start(m, initFor(m), never),
    "dial",
    new RegExp(`machine ${m.machineId} has no IP address recorded`),
  );
  const n = machine("127.0.0.1");
  await rejectsAt(
    starter.start(n, initFor(n), never),
    "upload",
    /^ssh root@127\.0\.0\.1:22: upload: agent file \/nonexistent\/drover-agent\.js cannot be read: .*No such file/,
  );
});

// ---- A real sshd ----

sshTest("start() uploads the agent, hands it the init on stdin and returns the key from its reply", async () => {
  await using f = await fixture();
  const m = machine("127.0.0.1");
  const init = initFor(m);
  const started = await f.starter().start(m, init, never);

  const written = await Deno.readTextFile(`${f.remotePath}.${m.machineId}.key`);
  assert.deepEqual(started.agentPublicKey, Uint8Array.from(atob(written), (c) => c.charCodeAt(0)));
  assert.equal(started.agentPublicKey.length, 32);
  assert.equal(await Deno.readTextFile(`${f.remotePath}.${m.machineId}.init.json`), `${JSON.stringify(init)}\n`);
  assert.deepEqual(await Deno.readFile(f.remotePath), await Deno.readFile(f.agentPath), "the agent was uploaded");
  assert.equal(await mode(f.remotePath), 0o700);

  // Again over the existing file: it is replaced, and the mode stays.
  await Deno.chmod(f.remotePath, 0o644);
  const again = await f.starter().start(m, init, never);
  assert.notDeepEqual(again.agentPublicKey, started.agentPublicKey, "a fresh key per start");
  assert.equal(await mode(f.remotePath), 0o700);
});

sshTest(
  "host keys: the key met on first use is returned to record; a different recorded or pinned key is refused",
  async () => {
    await using f = await fixture();
    const m = machine("127.0.0.1");
    const presented = f.sshd.hostPublicKey.split(" ").slice(0, 2).join(" ");
    const other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const withPolicy = (policy: HostKeyPolicy) => f.starter({ hostKeys: () => Promise.resolve(policy) });

    const first = await withPolicy({ kind: "firstUse", recorded: null }).start(m, initFor(m), never);
    assert.equal(first.sshHostKey, presented, "the key met is handed back to be recorded");
    const again = await withPolicy({ kind: "firstUse", recorded: { key: presented } }).start(m, initFor(m), never);
    assert.equal(again.sshHostKey, undefined, "a recorded key that matches is not recorded again");
    const pinned = await withPolicy({ kind: "pinned", key: f.sshd.hostPublicKey, where: "the inventory (line 4)" })
      .start(m, initFor(m), never);
    assert.equal(pinned.sshHostKey, undefined);

    const recordedAt = new Date("2026-12-01T10:00:00Z");
    await assert.rejects(
      () => withPolicy({ kind: "firstUse", recorded: { key: other, at: recordedAt } }).start(m, initFor(m), never),
      (e: Error) =>
        e instanceof AgentStartError && e.stage === "dial" &&
        e.message.includes(`the machine presented ssh-ed25519 ${fingerprint(presented)}`) &&
        e.message.includes(`Drover recorded ssh-ed25519 ${fingerprint(other)} on 2026-12-01T10:00:00.000Z`) &&
        e.message.includes("clear the recorded key on its page"),
    );
    await assert.rejects(
      () => withPolicy({ kind: "pinned", key: other, where: "the inventory (line 4)" }).start(m, initFor(m), never),
      (e: Error) => e instanceof AgentStartError && /the inventory \(line 4\) pins ssh-ed25519 SHA256:/.test(e.message),
    );
    const local = await new Deno.Command("/usr/bin/ssh-keygen", { args: ["-lf", `${f.sshd.dir}/host_ed25519.pub`] })
      .output();
    assert.ok(
      new TextDecoder().decode(local.stdout).includes(fingerprint(presented)),
      "the fingerprint is OpenSSH's",
    );
  },
);

sshTest("start() rejects a host that refuses the connection at the dial stage", async () => {
  await using f = await fixture();
  const port = freePort();
  const m = machine("127.0.0.1");
  await rejectsAt(
    f.starter({ port, connectTimeoutMs: 500 }).start(m, initFor(m), never),
    "dial",
    new RegExp(`^ssh ${f.sshd.username}@127\\.0\\.0\\.1:${port}: dial: connect ECONNREFUSED`),
  );
});

sshTest("start() gives up on a host that accepts and never speaks after connectTimeoutMs", async () => {
  await using f = await fixture();
  const port = freePort();
  await using _server = fakeServer("127.0.0.1", port);
  const m = machine("127.0.0.1");
  const ms = await timed(() =>
    rejectsAt(
      f.starter({ port, connectTimeoutMs: 500 }).start(m, initFor(m), never),
      "dial",
      /: dial: handshake did not finish within 500 ms \(the server sent nothing\)$/,
    )
  );
  assert.ok(ms >= 490 && ms < 2000, `took ${ms.toFixed(0)} ms`);
});

sshTest("start() rejects a host that sends non-SSH bytes, quoting them", async () => {
  await using f = await fixture();
  const port = freePort();
  await using _server = fakeServer(
    "127.0.0.1",
    port,
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n\u0000\u0007",
  );
  const m = machine("127.0.0.1");
  const ms = await timed(() =>
    rejectsAt(
      f.starter({ port, connectTimeoutMs: 500 }).start(m, initFor(m), never),
      "dial",
      /: dial: .* \(not an SSH server: it sent "HTTP\/1\.1 400 Bad Request\\r\\nConnection: close\\r\\n\\r\\n\\u0000\\u0007"\)$/,
    )
  );
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
});

sshTest("start() rejects an agent that exits non-zero at the run stage, with its status and stderr", async () => {
  await using f = await fixture(stubAgent({}, "exit-3"));
  const m = machine("127.0.0.1");
  await rejectsAt(
    f.starter().start(m, initFor(m), never),
    "run",
    /: run: agent exited with status 3: agent: cannot reach http:\/\/127\.0\.0\.1:9\/: connection refused$/,
  );
});

sshTest("start() rejects an agent that prints something other than JSON at the reply stage, quoting it", async () => {
  await using f = await fixture(stubAgent({}, "not-json"));
  const m = machine("127.0.0.1");
  await rejectsAt(
    f.starter().start(m, initFor(m), never),
    "reply",
    /: reply: agent's reply is not JSON: "Welcome to the machine!"$/,
  );
});

sshTest("start() gives up on an agent that never replies after runTimeoutMs", async () => {
  await using f = await fixture(stubAgent({}, "hang"));
  const m = machine("127.0.0.1");
  const ms = await timed(() =>
    rejectsAt(
      f.starter({ runTimeoutMs: 2000 }).start(m, initFor(m), never),
      "run",
      /: run: agent did not reply and exit within 2000 ms/,
    )
  );
  assert.ok(ms >= 1990 && ms < 5000, `took ${ms.toFixed(0)} ms`);
});

sshTest("aborting the signal mid-run rejects at once with its reason", async () => {
  await using f = await fixture(stubAgent({}, "hang"));
  const m = machine("127.0.0.1");
  const controller = new AbortController();
  const starting = f.starter().start(m, initFor(m), controller.signal);
  const settled = starting.then(() => undefined, (e: unknown) => e);
  await waitFor(() => Deno.stat(`${f.remotePath}.${m.machineId}.hanging`).then(() => true, () => false), {
    what: "the agent to run",
  });
  const reason = new Error("operator cancel");
  const abortedAt = performance.now();
  controller.abort(reason);
  assert.equal(await within(settled, 1000, "the rejection"), reason);
  assert.ok(performance.now() - abortedAt < 500, "promptly");
});

// ---- Through the initializer and the runner, on a real BMDB ----

/** Adds a machine running at Equinix at `ip`; returns its id. */
async function addMachine(bmdb: Bmdb, ip: string): Promise<string> {
  const session = await bmdb.startSession();
  try {
    return await session.transact(async (q) => {
      const { machineId } = await q.newMachine();
      await q.machineAddProvided({
        machineId,
        provider: Provider.Equinix,
        providerId: `eq-${machineId}`,
        providerIpAddress: ip,
        providerStatus: ProviderStatus.Running,
      });
      return machineId;
    });
  } finally {
    await session.close();
  }
}

/** Runs an Initializer with `starter` under a one-worker LoopRunner until `stop()`. */
function runInitializer(
  bmdb: Bmdb,
  starter: SshAgentStarter,
  agentUrl = "http://127.0.0.1:9/",
): { stop(): Promise<void> } {
  const runner = new LoopRunner(bmdb, new Initializer({ starter, agentUrl, heartbeatIntervalSeconds: 1 }), {
    parallelism: 1,
    limiter: new TokenBucket({ intervalMs: 1, burst: 100 }),
    idleWaitMs: 50,
    sessionIntervalSeconds: 1,
    metrics: loopMetrics(new Registry()),
    logger: quietLogger,
  });
  const controller = new AbortController();
  const done = runner.run(controller.signal);
  return {
    async stop() {
      controller.abort(new Error("test over"));
      await within(done, 5000, "the runner's shutdown");
    },
  };
}

/** The recorded agent key of a machine, base64, or undefined. */
async function recordedKey(t: TestBmdb, machineId: string): Promise<string | undefined> {
  const [row] = await t.sql(
    "SELECT encode(agent_public_key, 'base64') AS key FROM machine_agent_started WHERE machine_id = $1",
    [machineId],
  );
  return row?.key as string | undefined;
}

if (sshdAvailable) {
  bmdbTest("the initializer under a LoopRunner starts the agent over SSH and records its key", async (t) => {
    await using f = await fixture();
    const machineId = await addMachine(t.bmdb, "127.0.0.1");
    const running = runInitializer(t.bmdb, f.starter());
    try {
      const key = await waitFor(() => recordedKey(t, machineId), { what: "the agent's key recorded" });
      assert.equal(key, await Deno.readTextFile(`${f.remotePath}.${machineId}.key`));
    } finally {
      await running.stop();
    }
    const init = JSON.parse(await Deno.readTextFile(`${f.remotePath}.${machineId}.init.json`));
    assert.deepEqual(init, { machineId, agentUrl: "http://127.0.0.1:9", heartbeatIntervalSeconds: 1 });
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => h.event), ["Started", "Finished"]);
  });

  bmdbTest(
    "the real agent, bundled and started over SSH, heartbeats to the agent API and reports its hardware",
    async (t) => {
      const build = await Deno.makeTempDir({ prefix: "drover-agent-build-" });
      try {
        const bundled = await new Deno.Command(Deno.execPath(), {
          args: ["bundle", "--platform", "deno", "--quiet", "-o", `${build}/drover-agent.js`, "agent/main.ts"],
          stdout: "null",
          stderr: "piped",
        }).output();
        assert.ok(bundled.success, new TextDecoder().decode(bundled.stderr));
        await using f = await fixture(await Deno.readTextFile(`${build}/drover-agent.js`));
        await using server = listen(serverApp({ bmdb: t.bmdb, logger: quietLogger, registry: new Registry() }), {
          hostname: "127.0.0.1",
          port: 0,
        });
        const machineId = await addMachine(t.bmdb, "127.0.0.1");
        const running = runInitializer(t.bmdb, f.starter(), server.url);
        const pidFile = `${f.sshd.dir}/drover-agent.pid`;
        try {
          await waitFor(async () => {
            const [row] = await t.sql(
              `SELECT h.agent_heartbeat_at, r.hardware_report_raw FROM machine_agent_heartbeat h
             JOIN machine_hardware_report r USING (machine_id) WHERE h.machine_id = $1`,
              [machineId],
            );
            return row !== undefined;
          }, { timeoutMs: 30_000, intervalMs: 100, what: "the agent's heartbeat and hardware report" });
          const [report] = await t.sql(
            "SELECT hardware_report_raw FROM machine_hardware_report WHERE machine_id = $1",
            [
              machineId,
            ],
          );
          const hardware = JSON.parse(new TextDecoder().decode(report.hardware_report_raw as Uint8Array));
          assert.equal(hardware.simulated, false, "this machine's own hardware");
          assert.ok(hardware.cpu.cores >= 1);
          const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
          assert.deepEqual(history.map((h) => h.event), ["Started", "Finished"]);
        } finally {
          await running.stop();
          // The agent detached from the SSH session: stop its daemon.
          const pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
          if (pid > 0) {
            Deno.kill(pid, "SIGTERM");
            await waitFor(() => !existsSync(`/proc/${pid}`), { timeoutMs: 10_000, what: "the agent daemon's exit" });
          }
        }
      } finally {
        await Deno.remove(build, { recursive: true });
      }
    },
  );

  bmdbTest(
    "under a LoopRunner, each SSH failure becomes a Failed work with its cause and a backoff, and the worker goes on",
    async (t) => {
      // Every host on one port: sshd on 127.0.0.1, the others on more loopback addresses.
      const cases: { ip: string; behaviour?: Behaviour; cause: RegExp }[] = [
        { ip: "127.0.0.2", cause: /: dial: connect ECONNREFUSED 127\.0\.0\.2:\d+$/ },
        { ip: "127.0.0.3", cause: /: dial: handshake did not finish within 500 ms \(the server sent nothing\)$/ },
        {
          ip: "127.0.0.4",
          cause: /: dial: handshake did not finish within 500 ms \(not an SSH server: it sent "garbage"\)$/,
        },
        { ip: "127.0.0.1", behaviour: "exit-3", cause: /: run: agent exited with status 3: agent: cannot reach / },
        {
          ip: "127.0.0.1",
          behaviour: "not-json",
          cause: /: reply: agent's reply is not JSON: "Welcome to the machine!"$/,
        },
      ];
      const failing = await Promise.all(cases.map(async (c) => ({ ...c, machineId: await addMachine(t.bmdb, c.ip) })));
      const good = await addMachine(t.bmdb, "127.0.0.1");
      const behaviours = Object.fromEntries(failing.flatMap((c) => c.behaviour ? [[c.machineId, c.behaviour]] : []));
      await using f = await fixture(stubAgent(behaviours));
      await using _silent = fakeServer("127.0.0.3", f.sshd.port);
      await using _garbage = fakeServer("127.0.0.4", f.sshd.port, "garbage");

      const running = runInitializer(t.bmdb, f.starter({ connectTimeoutMs: 500 }));
      try {
        await waitFor(
          async () =>
            await countRows(t, "SELECT count(*) FROM work_backoff") === failing.length &&
            await recordedKey(t, good) !== undefined,
          { timeoutMs: 30_000, what: "5 machines in backoff and the good one started" },
        );
      } finally {
        await running.stop();
      }
      for (const c of failing) {
        const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId: c.machineId }));
        assert.deepEqual(history.map((h) => h.event), ["Started", "Failed"], c.ip);
        const cause = history[1].failedCause ?? "";
        assert.match(cause, new RegExp(`^initializer failed: ssh ${f.sshd.username}@${c.ip.replaceAll(".", "\\.")}:`));
        assert.match(cause, c.cause);
        const [backoff] = await t.bmdb.read((q) =>
          q.workBackoffOf({ machineId: c.machineId, process: Process.ShepherdAgentStart })
        );
        assert.equal(backoff?.cause, cause);
        assert.equal(await recordedKey(t, c.machineId), undefined);
      }
      assert.equal(await countRows(t, "SELECT count(*) FROM work"), 0, "no work left held");
      assert.equal(await countRows(t, "SELECT count(*) FROM sessions"), 0, "the worker closed its session");
    },
  );
}
