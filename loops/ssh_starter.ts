/**
 * Starts the Drover agent on a machine over SSH: dial, upload the bundled
 * agent over SFTP, run it with the takeover init on stdin and read its one
 * line of reply from stdout. Each stage has its own deadline, the caller's
 * signal aborts all of them, and the connection is always closed.
 *
 * ```ts
 * const starter = new SshAgentStarter({ privateKey, agentPath: "build/drover-agent.js" });
 * const { agentPublicKey } = await starter.start(machine, init, signal);
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { type ConnectConfig, utils } from "ssh2";
import type { MachineProvided } from "../bmdb/mod.ts";
import type { TakeoverInit } from "../agent/mod.ts";
import type { AgentStarter, StartedAgent } from "./agent_starter.ts";
import { type HostKeyPolicy, hostKeyRefusal, openSshPublicKey } from "./host_keys.ts";
import {
  AgentOutput,
  AgentStartError,
  message,
  parseReply,
  runAgent,
  shellQuote,
  SshCall,
  upload,
} from "./ssh_session.ts";

export { AgentStartError, type AgentStartStage, shellQuote } from "./ssh_session.ts";

/**
 * Checks a machine's SSH host key: the key blob in SSH wire format and the
 * host dialled. Return false (or throw) to refuse the connection.
 *
 * Synchronous on purpose: with ssh2 1.17, an asynchronous verifier stalls the
 * handshake with OpenSSH 9.2 (its EXT_INFO after NEWKEYS is never handled).
 */
export type HostKeyVerifier = (hostKey: Uint8Array, host: string) => boolean;

/** Where one machine is reached: its login, host and port (and, where it differs, where the agent goes). */
export interface SshTarget {
  username: string;
  host: string;
  port: number;
  /** Overrides the starter's `remotePath` for this machine. */
  remotePath?: string;
}

export interface SshAgentStarterOptions {
  /** The client key, in OpenSSH format, unencrypted. */
  privateKey: Uint8Array;
  /** The bundled agent to upload (a local file, read once on first use). */
  agentPath: string;
  /** @default "root" */
  username?: string;
  /** @default 22 */
  port?: number;
  /** Where the agent goes on the machine, relative to the login's home. @default "drover-agent.js" */
  remotePath?: string;
  /**
   * The shell command that runs the uploaded agent.
   * @default defaultAgentCommand (`deno run` for a .js file, else the file itself)
   */
  command?: (remotePath: string) => string;
  /** TCP connect, SSH handshake and authentication. @default 10_000 */
  connectTimeoutMs?: number;
  /** Opening SFTP, writing the agent and its chmod. @default 60_000 */
  uploadTimeoutMs?: number;
  /** From exec until the agent replied and exited. @default 30_000 */
  runTimeoutMs?: number;
  /** The most stdout accepted from the agent. @default 65_536 */
  maxReplyBytes?: number;
  /** @default accept any host key (see the constructor) */
  hostVerifier?: HostKeyVerifier;
  /**
   * Where a machine is reached, per machine (an inventory names each one's
   * login and port). @default `username`@the machine's IP address:`port`
   */
  target?: (machine: MachineProvided) => SshTarget;
  /**
   * How a machine's host key is checked, per machine (read before each
   * dial: a pinned key, or the one recorded on first use). A refusal fails
   * the dial with a cause that says which key was presented and which was
   * expected. @default any key
   */
  hostKeys?: (machine: MachineProvided, signal: AbortSignal) => Promise<HostKeyPolicy>;
}

/** `deno run --allow-all --no-config '<remotePath>'` for a .js file, else the (executable) file itself. */
export function defaultAgentCommand(remotePath: string): string {
  if (remotePath.endsWith(".js")) return `deno run --allow-all --no-config ${shellQuote(remotePath)}`;
  // A bare name would be looked up on PATH, not in the home directory.
  return shellQuote(remotePath.includes("/") ? remotePath : `./${remotePath}`);
}

/** Starts the agent over SSH (kind "ssh"). */
export class SshAgentStarter implements AgentStarter {
  readonly kind = "ssh";
  readonly #privateKey: Buffer;
  readonly #agentPath: string;
  readonly #username: string;
  readonly #port: number;
  readonly #remotePath: string;
  readonly #command: (remotePath: string) => string;
  readonly #connectTimeoutMs: number;
  readonly #uploadTimeoutMs: number;
  readonly #runTimeoutMs: number;
  readonly #maxReplyBytes: number;
  readonly #hostVerifier: HostKeyVerifier;
  readonly #target: ((machine: MachineProvided) => SshTarget) | undefined;
  readonly #hostKeys: ((machine: MachineProvided, signal: AbortSignal) => Promise<HostKeyPolicy>) | undefined;
  #agent: Promise<Buffer> | undefined;

  /** @throws {TypeError | RangeError} naming the option and its bad value. */
  constructor(options: SshAgentStarterOptions) {
    this.#privateKey = checkPrivateKey(options.privateKey);
    this.#agentPath = checkText("agentPath", options.agentPath);
    this.#username = checkText("username", options.username ?? "root", /^[^\s:@\0]+$/);
    this.#port = checkInteger("port", options.port ?? 22, 1, 65_535);
    this.#remotePath = checkText("remotePath", options.remotePath ?? "drover-agent.js", /^[^\0\n]*[^\0\n/]$/);
    const command = options.command ?? defaultAgentCommand;
    if (typeof command !== "function") fail(TypeError, "command must be a function", command);
    checkText("command(remotePath)", command(this.#remotePath));
    this.#command = command;
    this.#connectTimeoutMs = checkInteger("connectTimeoutMs", options.connectTimeoutMs ?? 10_000, 1);
    this.#uploadTimeoutMs = checkInteger("uploadTimeoutMs", options.uploadTimeoutMs ?? 60_000, 1);
    this.#runTimeoutMs = checkInteger("runTimeoutMs", options.runTimeoutMs ?? 30_000, 1);
    this.#maxReplyBytes = checkInteger("maxReplyBytes", options.maxReplyBytes ?? 65_536, 64);
    if (options.hostVerifier !== undefined && typeof options.hostVerifier !== "function") {
      fail(TypeError, "hostVerifier must be a function", options.hostVerifier);
    }
    // A freshly provisioned bare-metal machine makes its host key on first
    // boot, so there is nothing to check it against: accept any by default.
    this.#hostVerifier = options.hostVerifier ?? (() => true);
    this.#target = options.target;
    this.#hostKeys = options.hostKeys;
  }

  /**
   * Dials the machine, uploads the agent, runs it with `init` on stdin and
   * returns the public key from its reply.
   * @throws {AgentStartError} with the stage that failed; `signal.reason` when `signal` aborts.
   */
  async start(machine: MachineProvided, init: TakeoverInit, signal: AbortSignal): Promise<StartedAgent> {
    signal.throwIfAborted();
    const where = this.#target?.(machine) ??
      { username: this.#username, host: machine.providerIpAddress ?? "", port: this.#port };
    const { host, port, username } = where;
    if (host === "") {
      throw new AgentStartError(
        "dial",
        `${username}@?:${port}`,
        `machine ${machine.machineId} has no IP address recorded`,
      );
    }
    const target = `${username}@${host.includes(":") ? `[${host}]` : host}:${port}`;
    const agent = await this.#readAgent(target);
    const policy: HostKeyPolicy = await this.#hostKeys?.(machine, signal) ?? { kind: "any" };
    signal.throwIfAborted();

    const call = new SshCall(target, signal);
    const seen: { key?: string; refusal?: string } = {};
    let done = false;
    try {
      try {
        await call.step("dial", this.#connectTimeoutMs, () => call.dial(this.#connectConfig(where, policy, seen)));
      } catch (error) {
        // ssh2 reports a refused key only as "verification failed": say which key and why.
        if (seen.refusal && !signal.aborted) throw new AgentStartError("dial", target, seen.refusal);
        throw error;
      }
      const remotePath = where.remotePath ?? this.#remotePath;
      await call.step("upload", this.#uploadTimeoutMs, () => upload(call.client, remotePath, agent));
      const output = new AgentOutput(target, this.#maxReplyBytes);
      const exit = await call.step(
        "run",
        this.#runTimeoutMs,
        (stepDone) => runAgent(call.client, this.#command(remotePath), `${JSON.stringify(init)}\n`, output, stepDone),
        (ms) => output.describeTimeout(ms),
      );
      if (exit.status !== 0) {
        const how = exit.status === null
          ? `was killed by ${exit.signal ?? "a signal"}`
          : `exited with status ${exit.status}`;
        throw new AgentStartError("run", target, `agent ${how}: ${output.stderrTail() || "(no stderr)"}`);
      }
      const agentPublicKey = parseReply(target, output.stdout());
      done = true;
      // Trust on first use: the key met now is recorded with the agent.
      const firstUse = policy.kind === "firstUse" && policy.recorded === null;
      return firstUse && seen.key ? { agentPublicKey, sshHostKey: seen.key } : { agentPublicKey };
    } finally {
      await call.close(done);
    }
  }

  /** The agent's bytes, read on first use; a failed read is tried again next time. */
  async #readAgent(target: string): Promise<Buffer> {
    const reading = this.#agent ??= Deno.readFile(this.#agentPath).then((bytes) => Buffer.from(bytes));
    try {
      return await reading;
    } catch (error) {
      if (this.#agent === reading) this.#agent = undefined;
      throw new AgentStartError("upload", target, `agent file ${this.#agentPath} cannot be read: ${message(error)}`);
    }
  }

  #connectConfig(
    { host, port, username }: SshTarget,
    policy: HostKeyPolicy,
    seen: { key?: string; refusal?: string },
  ): ConnectConfig {
    const verify = this.#hostVerifier;
    return {
      host,
      port,
      username,
      privateKey: this.#privateKey,
      // SshCall's own deadline covers the handshake, TCP connect included.
      readyTimeout: 0,
      hostVerifier: (key: Buffer) => {
        try {
          seen.key = openSshPublicKey(key);
          seen.refusal = hostKeyRefusal(policy, seen.key);
          return seen.refusal === undefined && verify(new Uint8Array(key), host) === true;
        } catch {
          return false;
        }
      },
    };
  }
}

function fail(type: typeof TypeError | typeof RangeError, what: string, value: unknown): never {
  const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
  throw new type(`Cannot create SshAgentStarter: ${what}: current value is ${shown}`);
}

function checkText(name: string, value: unknown, pattern?: RegExp): string {
  if (typeof value !== "string" || value === "") fail(TypeError, `${name} must be a non-empty string`, value);
  if (pattern && !pattern.test(value)) fail(TypeError, `${name} must match ${pattern}`, value);
  return value;
}

function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    fail(RangeError, `${name} must be an integer ${range}`, value);
  }
  return value;
}

/** The key as ssh2 wants it (a Buffer), after checking it parses as an unencrypted private key. */
function checkPrivateKey(value: unknown): Buffer {
  // The key itself is never put in a message, only its type or size.
  const prefix = "Cannot create SshAgentStarter: privateKey";
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${prefix} must be a Uint8Array: current value is ${value === null ? "null" : typeof value}`);
  }
  const key = Buffer.from(value);
  const parsed = utils.parseKey(key);
  const problem = parsed instanceof Error
    ? parsed.message
    : parsed.isPrivateKey()
    ? undefined
    : "it holds no private key";
  if (problem) {
    throw new TypeError(
      `${prefix} is not a usable OpenSSH private key (${problem}): current value is ${key.length} bytes`,
    );
  }
  return key;
}
