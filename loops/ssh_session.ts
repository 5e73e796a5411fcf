/**
 * One SSH call of the SSH starter: the connection and its stages (dial,
 * upload over SFTP, run the agent and collect its output, read its reply),
 * each against its own deadline, the caller's signal and the connection's
 * loss, and the errors that say which stage failed.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Socket } from "node:net";
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { AGENT_PROTOCOL, fromBase64 } from "../agent/mod.ts";

/** Quotes `word` for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

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

const STDERR_TAIL_BYTES = 2048;
const QUOTE_CHARS = 200;
/** After the agent exits, how long its output may take to drain (a detached child may hold stdout open). */
const EXIT_DRAIN_MS = 1000;
/** How long a polite SSH disconnect may take before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

export interface Exit {
  status: number | null;
  signal: string | null;
}

/**
 * One SSH connection: runs stages against their deadlines, the caller's
 * signal and the connection's loss, and closes it for good.
 */
export class SshCall {
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
export function upload(client: Client, remotePath: string, agent: Buffer): Promise<void> {
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
export function runAgent(
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
export class AgentOutput {
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
export function parseReply(target: string, stdout: string): Uint8Array {
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
export function quote(text: string): string {
  return JSON.stringify(text.length > QUOTE_CHARS ? `${text.slice(0, QUOTE_CHARS)}…` : text);
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
