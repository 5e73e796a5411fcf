/**
 * A throwaway etcd cluster for tests: three members (by default) on free
 * loopback ports, each with its own data directory, client and peer port,
 * all under one temporary directory removed on `stop()`.
 *
 * ```ts
 * await using cluster = await startEtcdCluster();
 * const client = cluster.client(); // every member's endpoint
 * const leader = await cluster.leader();
 * await leader.kill(); // SIGKILL, like a crash
 * await leader.restart(); // same data dir and ports: it rejoins and catches up
 * ```
 *
 * @module
 */
import { noop } from "cockatiel";
import { Etcd3, type IOptions, type IStatusResponse } from "etcd3";
import { etcdBinary, etcdRequirement } from "./etcd.ts";
import { freePort } from "./free_port.ts";

/** One member of a {@linkcode EtcdCluster}. */
export interface EtcdMember {
  /** `m0`, `m1`, ... */
  readonly name: string;
  /** Its client URL, `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Its data directory (kept across `kill` and `restart`). */
  readonly dataDir: string;
  /** Its log file (etcd's stderr, appended across restarts). */
  readonly logFile: string;
  /** Whether its process runs (killed members do not). */
  readonly running: boolean;
  /** A client of this member alone (`options` may add to it); closed by the cluster's `stop()`. */
  client(options?: Partial<IOptions>): Etcd3;
  /** The member's own status (etcd's maintenance Status RPC, answered by this member alone). */
  status(): Promise<IStatusResponse>;
  /** Kills the process with SIGKILL, like a crash, and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on its data dir and ports (kills it first if it runs), and waits until it reports healthy. */
  restart(): Promise<void>;
}

/** A running throwaway etcd cluster. */
export interface EtcdCluster extends AsyncDisposable {
  readonly members: readonly EtcdMember[];
  /** Every member's client URL, in member order (what `ETCD_ENDPOINTS` lists). */
  readonly endpoints: readonly string[];
  /** The directory holding every member's data and log. */
  readonly dir: string;
  /** A client of every member (`options` may add to it); closed by `stop()`. */
  client(options?: Partial<IOptions>): Etcd3;
  /**
   * The member the running members agree leads, once they do (polls their
   * status until a running member is named leader by all running members).
   * @throws when there is no agreed leader within `timeoutMs` (default 20 s).
   */
  leader(options?: { timeoutMs?: number }): Promise<EtcdMember>;
  /** The last lines of every member's log, for a failure message. */
  logs(lines?: number): Promise<string>;
  /** Closes the clients, kills every member and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startEtcdCluster}. */
export interface EtcdClusterOptions {
  /** @default 3 */
  size?: number;
}

const STARTUP_TIMEOUT_MS = 30_000;
/** Tries with fresh ports when a port picked as free is taken before etcd binds it. */
const START_ATTEMPTS = 3;

/**
 * Starts a new cluster (every member at once, as a new cluster must) and
 * waits until every member reports healthy, which needs an elected leader.
 * @throws when the binary is missing or the cluster does not come up (the message holds the members' logs).
 */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`Cannot start an etcd cluster: size must be an integer >= 1: current value is ${size}`);
  }
  const binary = etcdBinary();
  if (!binary) throw new Error(`etcd not found: ${etcdRequirement.probe()}`);
  const dir = await Deno.makeTempDir({ prefix: "drover-etcd-cluster-" });
  const processes: MemberProcess[] = [];
  // The processes outlive a test run that is cut short unless this kills them.
  const onUnload = () => {
    for (const p of processes) p.killSync();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  };
  globalThis.addEventListener("unload", onUnload);

  for (let attempt = 1;; attempt++) {
    const token = `drover-test-${crypto.randomUUID()}`;
    const ports = Array.from({ length: size }, () => ({ client: freePort(), peer: freePort() }));
    const initialCluster = ports.map((p, i) => `m${i}=http://127.0.0.1:${p.peer}`).join(",");
    processes.length = 0;
    for (const [i, p] of ports.entries()) {
      processes.push(new MemberProcess(binary, { name: `m${i}`, dir, ports: p, initialCluster, token }));
    }
    try {
      // A new cluster elects its first leader only once a quorum has started: launch all, then wait.
      for (const p of processes) await p.launch();
      await Promise.all(processes.map((p) => p.waitHealthy()));
      break;
    } catch (error) {
      const logs = await describeLogs(processes, 20);
      await Promise.all(processes.map((p) => p.kill()));
      for (const p of processes) await Deno.remove(p.memberDir, { recursive: true }).catch(() => {});
      if (attempt >= START_ATTEMPTS) {
        globalThis.removeEventListener("unload", onUnload);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        throw new Error(`etcd cluster did not start: ${(error as Error).message}\n${logs}`);
      }
    }
  }

  const clients = new Set<Etcd3>();
  const newClient = (hosts: string[], extra: Partial<IOptions> = {}) => {
    const client = new Etcd3({ hosts, ...extra });
    clients.add(client);
    return client;
  };
  const members: EtcdMember[] = processes.map((p) => {
    let statusClient: Etcd3 | undefined;
    return {
      name: p.name,
      endpoint: p.endpoint,
      dataDir: p.dataDir,
      logFile: p.logFile,
      get running() {
        return p.running;
      },
      client: (extra) => newClient([p.endpoint], extra),
      status: () => {
        // Fault handling off: a status call to a dead member fails once, at once, and blocks nothing later.
        statusClient ??= newClient([p.endpoint], noFaultHandling);
        return statusClient.maintenance.status({ deadline: Date.now() + 2_000 });
      },
      kill: () => p.kill(),
      restart: async () => {
        await p.kill();
        await p.launch();
        await p.waitHealthy();
      },
    };
  });

  let stopped = false;
  const cluster: EtcdCluster = {
    members,
    endpoints: members.map((m) => m.endpoint),
    dir,
    client: (extra) => newClient(members.map((m) => m.endpoint), extra),
    async leader({ timeoutMs = 20_000 } = {}) {
      const deadline = performance.now() + timeoutMs;
      let last = "no status yet";
      for (;;) {
        const running = members.filter((m) => m.running);
        const statuses = await Promise.all(running.map((m) => m.status().catch((error: Error) => error)));
        const ids = statuses.map((s) => s instanceof Error ? undefined : s.leader);
        const leaderId = ids[0];
        const agreed = leaderId !== undefined && leaderId !== "0" && ids.every((id) => id === leaderId);
        const leader = agreed &&
          running.find((_, i) => {
            const status = statuses[i];
            return !(status instanceof Error) && status.header.member_id === leaderId;
          });
        if (leader) return leader;
        last = running.map((m, i) => {
          const s = statuses[i];
          return `${m.name}: ${s instanceof Error ? s.message : `member ${s.header.member_id}, leader ${s.leader}`}`;
        }).join("; ");
        if (performance.now() > deadline) throw new Error(`no agreed etcd leader within ${timeoutMs} ms (${last})`);
        // Nothing emits when an election ends; poll.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    logs: (lines = 30) => describeLogs(processes, lines),
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const client of clients) client.close();
      await Promise.all(processes.map((p) => p.kill()));
      globalThis.removeEventListener("unload", onUnload);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return this.stop();
    },
  };
  return cluster;
}

/** No retries and no circuit breaker: what a probe wants. */
const noFaultHandling: Partial<IOptions> = { faultHandling: { host: () => noop, global: noop } };

interface RunningMember {
  child: Deno.ChildProcess;
  logged: Promise<void>;
  exited?: Deno.CommandStatus;
}

/** One member's process: launched, killed and relaunched on the same ports and data dir. */
class MemberProcess {
  readonly name: string;
  readonly memberDir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly endpoint: string;
  readonly #binary: string;
  readonly #args: string[];
  #process: RunningMember | undefined;

  constructor(
    binary: string,
    options: {
      name: string;
      dir: string;
      ports: { client: number; peer: number };
      initialCluster: string;
      token: string;
    },
  ) {
    const { name, dir, ports, initialCluster, token } = options;
    this.name = name;
    this.#binary = binary;
    this.memberDir = `${dir}/${name}`;
    this.dataDir = `${this.memberDir}/data`;
    this.logFile = `${this.memberDir}/etcd.log`;
    this.endpoint = `http://127.0.0.1:${ports.client}`;
    const peer = `http://127.0.0.1:${ports.peer}`;
    // The initial-cluster flags only matter on the first start; a restart finds the cluster in its data dir.
    this.#args = [
      `--name=${name}`,
      `--data-dir=${this.dataDir}`,
      `--listen-client-urls=${this.endpoint}`,
      `--advertise-client-urls=${this.endpoint}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${token}`,
      "--initial-cluster-state=new",
      "--logger=zap",
      "--log-level=warn",
    ];
  }

  get running(): boolean {
    return this.#process !== undefined && this.#process.exited === undefined;
  }

  async launch(): Promise<void> {
    await Deno.mkdir(this.memberDir, { recursive: true });
    const child = new Deno.Command(this.#binary, { args: this.#args, stdin: "null", stdout: "null", stderr: "piped" })
      .spawn();
    const file = await Deno.open(this.logFile, { write: true, create: true, append: true });
    const running: RunningMember = {
      child,
      logged: child.stderr.pipeTo(file.writable).catch(() => {}),
    };
    child.status.then((status) => running.exited = status);
    this.#process = running;
  }

  /** Polls the member's `/health` (true once it has a leader and no alarm); fails early if the process exits. */
  async waitHealthy(): Promise<void> {
    const deadline = performance.now() + STARTUP_TIMEOUT_MS;
    let last = "no answer yet";
    while (performance.now() < deadline) {
      const exited = this.#process?.exited;
      if (!this.#process || exited) throw new Error(`${this.name} exited with code ${exited?.code ?? "unknown"}`);
      try {
        const response = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(2_000) });
        const body = await response.text();
        if (response.ok && JSON.parse(body).health === "true") return;
        last = `${response.status} ${body}`;
      } catch (error) {
        last = (error as Error).message;
      }
      // Nothing emits when a member becomes healthy; poll.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${this.name} (${this.endpoint}) not healthy after ${STARTUP_TIMEOUT_MS} ms (last: ${last})`);
  }

  async kill(): Promise<void> {
    const running = this.#process;
    if (!running) return;
    try {
      running.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await running.child.status;
    await running.logged;
    if (this.#process === running) this.#process = undefined;
  }

  killSync(): void {
    try {
      this.#process?.child.kill("SIGKILL");
    } catch { /* already exited */ }
  }
}

async function describeLogs(processes: readonly MemberProcess[], lines: number): Promise<string> {
  const parts = await Promise.all(processes.map(async (p) => {
    const text = await Deno.readTextFile(p.logFile).catch(() => "");
    return `--- ${p.name} (${p.endpoint}) log, last ${lines} lines:\n${
      text.trimEnd().split("\n").slice(-lines).join("\n")
    }`;
  }));
  return parts.join("\n");
}
