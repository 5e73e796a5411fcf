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
import { Socket } from "node:net";
import { Client, type ClientChannel, type ConnectConfig, utils } from "ssh2";
import type { MachineProvided } from "../bmdb/mod.ts";
import { AGENT_PROTOCOL, fromBase64, type TakeoverInit } from "../agent/mod.ts";
import type { AgentStarter, StartedAgent } from "./agent_starter.ts";

/** Which part of an SSH start failed. */
export type AgentStartStage = "dial" | "upload" | "run" | "reply";

/** Why starting the agent over SSH failed; `stage` says where, the message says what and on which host. */
export class AgentStartError extends Error {
  constructor(readonly stage: AgentStartStage, readonly target: string, detail: string) {
    // No `cause`: the detail already holds the underlying message, and the
    // runner appends causes to the history entry, which would repeat it.
    super(`ssh ${target}: ${stage}: ${detail}`);
    this.name = "AgentStartError";
  }
}

/**
 * Checks a machine's SSH host key: the key blob in SSH wire format and the
 * host dialled. Return false (or throw) to refuse the connection.
 *
 * Synchronous on purpose: with ssh2 1.17, an asynchronous verifier stalls the
 * handshake with OpenSSH 9.2 (its EXT_INFO after NEWKEYS is never handled).
 */
export type HostKeyVerifier = (hostKey: Uint8Array, host: string) => boolean;

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
}

/** Quotes `word` for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** `deno run --allow-all --no-config '<remotePath>'` for a .js file, else the (executable) file itself. */
export function defaultAgentCommand(remotePath: string): string {
  if (remotePath.endsWith(".js")) return `deno run --allow-all --no-config ${shellQuote(remotePath)}`;
  // A bare name would be looked up on PATH, not in the home directory.
  return shellQuote(remotePath.includes("/") ? remotePath : `./${remotePath}`);
}

const STDERR_TAIL_BYTES = 2048;
const QUOTE_CHARS = 200;
/** After the agent exits, how long its output may take to drain (a detached child may hold stdout open). */
const EXIT_DRAIN_MS = 1000;
/** How long a polite SSH disconnect may take before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

/** Starts the agent over SSH (kind "ssh"). */
export class SshAgentStarter implements AgentStarter {
  readonly kind = "ssh";
  readonly #privateKey: Buffer;
  readonly #agentPath: string;
  readonly #username: string;
  readonly #port: number;
  readonly #remotePath: string;
  readonly #command: string;
  readonly #connectTimeoutMs: number;
  readonly #uploadTimeoutMs: number;
  readonly #runTimeoutMs: number;
  readonly #maxReplyBytes: number;
  readonly #hostVerifier: HostKeyVerifier;
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
    this.#command = checkText("command(remotePath)", command(this.#remotePath));
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
  }

  /**
   * Dials the machine, uploads the agent, runs it with `init` on stdin and
   * returns the public key from its reply.
   * @throws {AgentStartError} with the stage that failed; `signal.reason` when `signal` aborts.
   */
  async start(machine: MachineProvided, init: TakeoverInit, signal: AbortSignal): Promise<StartedAgent> {
    signal.throwIfAborted();
    const host = machine.providerIpAddress;
    if (host === null) {
      throw new AgentStartError(
        "dial",
        `${this.#username}@?:${this.#port}`,
        `machine ${machine.machineId} has no IP address recorded`,
      );
    }
    const target = `${this.#username}@${host.includes(":") ? `[${host}]` : host}:${this.#port}`;
    const agent = await this.#readAgent(target);
    signal.throwIfAborted();

    const call = new SshCall(target, signal);
    let done = false;
    try {
      await call.step("dial", this.#connectTimeoutMs, () => call.dial(this.#connectConfig(host)));
      await call.step("upload", this.#uploadTimeoutMs, () => upload(call.client, this.#remotePath, agent));
      const output = new AgentOutput(target, this.#maxReplyBytes);
      const exit = await call.step(
        "run",
        this.#runTimeoutMs,
        (stepDone) => runAgent(call.client, this.#command, `${JSON.stringify(init)}\n`, output, stepDone),
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
      return { agentPublicKey };
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

  #connectConfig(host: string): ConnectConfig {
    const verify = this.#hostVerifier;
    return {
      host,
      port: this.#port,
      username: this.#username,
      privateKey: this.#privateKey,
      // SshCall's own deadline covers the handshake, TCP connect included.
      readyTimeout: 0,
      hostVerifier: (key: Buffer) => {
        try {
          return verify(new Uint8Array(key), host) === true;
        } catch {
          return false;
        }
      },
    };
  }
}

interface Exit {
  status: number | null;
  signal: string | null;
}

/**
 * One SSH connection: runs stages against their deadlines, the caller's
 * signal and the connection's loss, and closes it for good.
 */
class SshCall {
  readonly client = new Client();
  readonly #socket = new Socket();
  readonly #closed: Promise<void>;
  readonly #lost: Promise<never>;
  readonly #aborted: Promise<never>;
  readonly #onAbort: () => void;
  readonly #signal: AbortSignal;
  readonly #target: string;
  #dialed = false;
  #connected = false;
  /** The server's first bytes, to say what answered when it does not speak SSH. */
  #greeting = "";

  constructor(target: string, signal: AbortSignal) {
    this.#target = target;
    this.#signal = signal;
    this.#closed = new Promise((resolve) => this.#socket.once("close", () => resolve()));
    const lost = Promise.withResolvers<never>();
    // ssh2 reports every failure (refused, reset, protocol, auth) as an error
    // event; without a listener it would throw.
    this.client.on("error", (error) => lost.reject(error));
    this.client.once("close", () => lost.reject(new Error("the connection was closed by the remote end")));
    this.#lost = lost.promise;
    this.#lost.catch(() => {}); // also lost between stages: the next stage reports it
    const aborted = Promise.withResolvers<never>();
    this.#onAbort = () => aborted.reject(signal.reason);
    signal.addEventListener("abort", this.#onAbort, { once: true });
    this.#aborted = aborted.promise;
    this.#aborted.catch(() => {});
  }

  /** Connects the socket and runs the SSH handshake; resolves once authenticated. */
  dial(config: ConnectConfig): Promise<void> {
    return new Promise((resolve) => {
      this.client.once("ready", () => resolve());
      this.#dialed = true;
      // Our own socket, so close() can always destroy it; it must be
      // connecting before ssh2 takes it, or ssh2 writes to it at once.
      this.#socket.connect(config.port ?? 22, config.host ?? "");
      this.#socket.once("connect", () => this.#connected = true);
      const peek = (chunk: Buffer) => {
        this.#greeting += chunk.toString("latin1");
        if (this.#greeting.length >= QUOTE_CHARS) this.#socket.off("data", peek);
      };
      this.#socket.on("data", peek);
      this.client.connect({ ...config, sock: this.#socket });
    });
  }

  /**
   * Runs `work` as `stage`: resolves with its result, or rejects with an
   * AgentStartError (its failure, the deadline, the lost connection) or with
   * the signal's reason. `work` gets a signal that aborts when the stage ends.
   */
  async step<T>(
    stage: AgentStartStage,
    timeoutMs: number,
    work: (stepDone: AbortSignal) => Promise<T>,
    describeTimeout: (ms: number) => string = (ms) => this.#describeTimeout(stage, ms),
  ): Promise<T> {
    this.#signal.throwIfAborted(); // before work() starts anything on the machine
    const stepDone = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const failed = (detail: string) => new AgentStartError(stage, this.#target, detail + this.#serverSaid(stage));
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(failed(describeTimeout(timeoutMs))), timeoutMs);
    });
    try {
      return await Promise.race([
        this.#aborted,
        this.#lost.catch((error) => {
          throw failed(message(error));
        }),
        work(stepDone.signal).catch((error) => {
          throw error instanceof AgentStartError ? error : failed(message(error));
        }),
        late,
      ]);
    } catch (error) {
      // An abort wins over whatever else the torn-down connection reports.
      throw this.#signal.aborted ? this.#signal.reason : error;
    } finally {
      clearTimeout(timer);
      stepDone.abort();
    }
  }

  #describeTimeout(stage: AgentStartStage, ms: number): string {
    if (stage === "dial" && !this.#connected) return `TCP connect did not finish within ${ms} ms`;
    if (stage === "dial") return `handshake did not finish within ${ms} ms`;
    return `${stage} did not finish within ${ms} ms`;
  }

  /** For a failed dial: what the server sent, when that was not SSH. */
  #serverSaid(stage: AgentStartStage): string {
    if (stage !== "dial" || !this.#connected) return "";
    if (this.#greeting === "") return " (the server sent nothing)";
    if (/(^|\n)SSH-/.test(this.#greeting)) return "";
    return ` (not an SSH server: it sent ${quote(this.#greeting)})`;
  }

  /** Ends the connection (politely after success) and waits until the socket is closed. */
  async close(polite: boolean): Promise<void> {
    this.#signal.removeEventListener("abort", this.#onAbort);
    if (!this.#dialed) return; // no socket to close
    if (polite && !this.#socket.destroyed) {
      this.client.end();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.#closed, new Promise((resolve) => timer = setTimeout(resolve, CLOSE_GRACE_MS))]);
      clearTimeout(timer);
    }
    this.#socket.destroy();
    await this.#closed;
  }
}

/** Writes the agent to `remotePath` over SFTP and makes it executable for its owner only. */
function upload(client: Client, remotePath: string, agent: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    client.sftp((error, sftp) => {
      if (error) return reject(new Error(`cannot open SFTP: ${message(error)}`));
      const finish = (error: unknown, what: string) => {
        sftp.end();
        if (error) reject(new Error(`cannot ${what} ${shellQuote(remotePath)}: ${message(error)}`));
        else resolve();
      };
      sftp.writeFile(remotePath, agent, { mode: 0o700 }, (error) => {
        if (error) return finish(error, `write ${agent.length} bytes to`);
        // writeFile's mode only applies when it creates the file.
        sftp.chmod(remotePath, 0o700, (error) => finish(error, "chmod 0700"));
      });
    });
  });
}

/**
 * Execs `command`, writes `input` to its stdin and closes it, collects its
 * output into `output` and resolves with its exit once its output ended (or,
 * when something holds stdout open, shortly after the exit).
 */
function runAgent(
  client: Client,
  command: string,
  input: string,
  output: AgentOutput,
  stepDone: AbortSignal,
): Promise<Exit> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error: Error | undefined, channel: ClientChannel) => {
      if (error) return reject(new Error(`cannot exec: ${message(error)}`));
      let exit: Exit | undefined;
      let ended = false;
      let drainTimer: ReturnType<typeof setTimeout> | undefined;
      const finish = () => {
        clearTimeout(drainTimer);
        if (exit) resolve(exit);
        else reject(new Error(`the session ended without an exit status: ${output.stderrTail() || "(no stderr)"}`));
      };
      stepDone.addEventListener("abort", () => clearTimeout(drainTimer), { once: true });
      channel.on("data", (chunk: Buffer) => {
        const overflow = output.addStdout(chunk);
        if (overflow) reject(overflow);
      });
      channel.stderr.on("data", (chunk: Buffer) => output.addStderr(chunk));
      // The exit status and the EOF (stdout and stderr complete) come in
      // either order; the output may still be in flight when the status comes.
      channel.on("exit", (status: number | null, signal?: string) => {
        exit = { status, signal: signal ?? null };
        output.markExited();
        if (ended) finish();
        else if (!stepDone.aborted) drainTimer = setTimeout(finish, EXIT_DRAIN_MS);
      });
      channel.on("end", () => {
        ended = true;
        if (exit) finish();
      });
      channel.on("close", finish); // the server sends any exit status before this
      channel.end(input);
    });
  });
}

/** The agent's stdout (capped) and the tail of its stderr. */
class AgentOutput {
  readonly #target: string;
  readonly #maxStdoutBytes: number;
  readonly #stdout: Uint8Array[] = [];
  #stdoutBytes = 0;
  #stderrTail: Uint8Array = new Uint8Array(0);
  #exited = false;

  constructor(target: string, maxStdoutBytes: number) {
    this.#target = target;
    this.#maxStdoutBytes = maxStdoutBytes;
  }

  /** Adds a chunk of stdout; returns the error to fail with once the cap is passed. */
  addStdout(chunk: Uint8Array): AgentStartError | undefined {
    this.#stdoutBytes += chunk.length;
    if (this.#stdoutBytes > this.#maxStdoutBytes) {
      return new AgentStartError(
        "reply",
        this.#target,
        `agent wrote more than ${this.#maxStdoutBytes} bytes on stdout: ${quote(this.stdout())}`,
      );
    }
    this.#stdout.push(chunk);
  }

  addStderr(chunk: Uint8Array): void {
    const joined = new Uint8Array(this.#stderrTail.length + chunk.length);
    joined.set(this.#stderrTail);
    joined.set(chunk, this.#stderrTail.length);
    this.#stderrTail = joined.slice(-STDERR_TAIL_BYTES);
  }

  markExited(): void {
    this.#exited = true;
  }

  stdout(): string {
    return new TextDecoder().decode(Buffer.concat(this.#stdout));
  }

  /** The last ~2 KiB of stderr, trimmed. */
  stderrTail(): string {
    return new TextDecoder().decode(this.#stderrTail).trim();
  }

  describeTimeout(ms: number): string {
    const what = this.#exited ? "agent exited but its output did not end" : "agent did not reply and exit";
    const stderr = this.stderrTail();
    return `${what} within ${ms} ms${stderr ? `: ${stderr}` : ""}`;
  }
}

/** The public key from the last non-empty line of the agent's stdout (a TakeoverReply). */
function parseReply(target: string, stdout: string): Uint8Array {
  const line = stdout.split("\n").map((l) => l.trim()).filter((l) => l !== "").at(-1);
  const bad = (what: string) => new AgentStartError("reply", target, what);
  if (line === undefined) throw bad(`agent printed no reply on stdout`);
  let reply: unknown;
  try {
    reply = JSON.parse(line);
  } catch {
    throw bad(`agent's reply is not JSON: ${quote(line)}`);
  }
  if (typeof reply !== "object" || reply === null || !("protocol" in reply) || reply.protocol !== AGENT_PROTOCOL) {
    throw bad(`agent's reply is not protocol ${AGENT_PROTOCOL}: ${quote(line)}`);
  }
  const key = "agentPublicKey" in reply && typeof reply.agentPublicKey === "string"
    ? fromBase64(reply.agentPublicKey)
    : undefined;
  if (key === undefined || key.length !== 32) {
    throw bad(`agent's reply has no agentPublicKey of 32 bytes in base64: ${quote(line)}`);
  }
  return key;
}

/** `text` as a JSON string, cut to about 200 characters. */
function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
