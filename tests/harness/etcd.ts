/**
 * A throwaway etcd for tests: one member on free loopback ports (client and
 * peer) with its data in a fresh temporary directory, removed on `stop()`.
 *
 * ```ts
 * await using etcd = await startEtcd();
 * const client = etcd.client();
 * await client.put("a").value("1");
 * await etcd.kill(); // SIGKILL, like a crash
 * await etcd.restart(); // same data dir and ports
 * ```
 *
 * @module
 */
import { Etcd3, type IOptions } from "etcd3";
import { freePort } from "./free_port.ts";
import { fileExists, type ServiceRequirement } from "./requirements.ts";

const DEFAULT_BINARY = "/usr/bin/etcd";

/** The etcd binary: `$ETCD_BIN`, else Debian's. */
export function etcdBinary(): string | undefined {
  return [Deno.env.get("ETCD_BIN"), DEFAULT_BINARY].find((path): path is string => !!path && fileExists(path));
}

/** The etcd server binary, as a test requirement. */
export const etcdRequirement: ServiceRequirement = {
  name: "etcd (etcd-server)",
  install: "apt-get install -y etcd-server (or set ETCD_BIN to an etcd binary)",
  probe: () => etcdBinary() ? undefined : `${DEFAULT_BINARY} is missing and ETCD_BIN is not set`,
};

/** A running throwaway etcd. */
export interface EtcdServer extends AsyncDisposable {
  /** The client URL, `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Data directory and log (for diagnostics). */
  readonly dir: string;
  /** A client of this etcd (`options` may point it elsewhere, e.g. at a proxy); closed by `stop()`. */
  client(options?: Partial<IOptions>): Etcd3;
  /** Kills the process with SIGKILL, like a crash, and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same data dir and ports (kills it first if it runs), and waits until it is healthy. */
  restart(): Promise<void>;
  /** Closes the clients, kills the process and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 20_000;

/**
 * Starts a throwaway etcd and waits until it answers `/health`.
 * @throws when the binary is missing or etcd does not start (the message holds its log).
 */
export async function startEtcd(): Promise<EtcdServer> {
  const binary = etcdBinary();
  if (!binary) throw new Error(`etcd not found: ${etcdRequirement.probe()}`);
  const dir = await Deno.makeTempDir({ prefix: "drover-etcd-" });
  const log = `${dir}/etcd.log`;
  let ports = { client: 0, peer: 0 };
  let process: { child: Deno.ChildProcess; logged: Promise<void> } | undefined;

  const args = () => {
    const client = `http://127.0.0.1:${ports.client}`;
    const peer = `http://127.0.0.1:${ports.peer}`;
    return [
      "--name=test",
      `--data-dir=${dir}/data`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=test=${peer}`,
      "--initial-cluster-state=new",
      "--logger=zap",
      "--log-level=warn",
    ];
  };
  const endpoint = () => `http://127.0.0.1:${ports.client}`;

  const launch = async () => {
    const child = new Deno.Command(binary, { args: args(), stdin: "null", stdout: "null", stderr: "piped" }).spawn();
    const file = await Deno.open(log, { write: true, create: true, append: true });
    process = { child, logged: child.stderr.pipeTo(file.writable).catch(() => {}) };
    try {
      await healthy(endpoint(), child);
    } catch (error) {
      await kill();
      const text = await Deno.readTextFile(log).catch(() => "");
      throw new Error(`etcd did not start on ${endpoint()}: ${(error as Error).message}\n${text}`);
    }
  };
  const kill = async () => {
    const running = process;
    process = undefined;
    if (!running) return;
    try {
      running.child.kill("SIGKILL");
    } catch { /* already exited */ }
    await running.child.status;
    await running.logged;
  };
  // The process outlives a test run that is cut short unless this kills it.
  const onUnload = () => {
    try {
      process?.child.kill("SIGKILL");
    } catch { /* already exited */ }
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* already gone */ }
  };
  globalThis.addEventListener("unload", onUnload);

  // The ports are free when picked but could be taken before etcd binds them: try a few.
  for (let attempt = 1;; attempt++) {
    ports = { client: freePort(), peer: freePort() };
    try {
      await launch();
      break;
    } catch (error) {
      await Deno.remove(`${dir}/data`, { recursive: true }).catch(() => {});
      if (attempt >= 3) {
        globalThis.removeEventListener("unload", onUnload);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        throw error;
      }
    }
  }

  const clients = new Set<Etcd3>();
  let stopped = false;
  const server: EtcdServer = {
    get endpoint() {
      return endpoint();
    },
    dir,
    client(options = {}) {
      const client = new Etcd3({ hosts: endpoint(), ...options });
      clients.add(client);
      return client;
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const client of clients) client.close();
      await kill();
      globalThis.removeEventListener("unload", onUnload);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return this.stop();
    },
  };
  return server;
}

/** Polls etcd's `/health` until it reports healthy; fails early if the process exits. */
async function healthy(endpoint: string, child: Deno.ChildProcess): Promise<void> {
  let exited: Deno.CommandStatus | undefined;
  child.status.then((status) => exited = status);
  const deadline = performance.now() + STARTUP_TIMEOUT_MS;
  let last = "no answer yet";
  while (performance.now() < deadline) {
    if (exited) throw new Error(`etcd exited with code ${exited.code}`);
    try {
      const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = await response.text();
      if (response.ok && JSON.parse(body).health === "true") return;
      last = `${response.status} ${body}`;
    } catch (error) {
      last = (error as Error).message;
    }
    // Nothing emits when etcd becomes ready; poll.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not healthy after ${STARTUP_TIMEOUT_MS} ms (last: ${last})`);
}
