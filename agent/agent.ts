/**
 * The agent after takeover: heartbeats to the Drover server, sends the
 * hardware report once, and stops when told to, when a newer agent has
 * replaced it, or when its key was never recorded.
 *
 * @module
 */
import { setTimeout as delay } from "node:timers/promises";
import {
  AGENT_API_PREFIX,
  AGENT_PROTOCOL,
  AgentEndpoint,
  exportPublicKey,
  fromBase64,
  generateAgentKeys,
  type HardwareReport,
  type HardwareReportRequest,
  type HeartbeatRequest,
  SIGNATURE_HEADER,
  signRequest,
  type TakeoverInit,
  type TakeoverReply,
  toBase64,
} from "./protocol.ts";

/** Why {@linkcode Agent.run} ended. */
export type AgentExit =
  /** The signal given to `run` aborted. */
  | "stopped"
  /** After an accepted request, the server answered 401/404: a newer agent owns the machine. */
  | "superseded"
  /** Nothing was accepted within `acceptGraceMs`. */
  | "never accepted";

/** Options of {@linkcode Agent.create}. */
export interface AgentOptions {
  /** Collects the hardware report; called when the report is first due, and again after it rejected. */
  hardware: () => Promise<HardwareReport>;
  /** A key pair to use instead of a fresh one. Its private key must be extractable for `exportState`. */
  keys?: CryptoKeyPair;
  /** @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Receives one line per notable event (repeated failures are logged once). @default no logging */
  log?: (line: string) => void;
  /**
   * How long to keep trying before anything is accepted. The initializer records
   * the agent's key only after it has read the takeover reply, so 401/404 are
   * expected at first. @default 600_000 (10 minutes)
   */
  acceptGraceMs?: number;
  /** Pause before retrying a transient failure. @default 1000 */
  retryMs?: number;
  /** Per-request deadline. @default 10_000 */
  requestTimeoutMs?: number;
}

/** What a detached agent takes along: {@linkcode Agent.exportState} as JSON. */
export interface AgentState {
  protocol: typeof AGENT_PROTOCOL;
  init: TakeoverInit;
  /** base64 PKCS#8 of the ed25519 private key. */
  privateKey: string;
  /** base64 of the raw 32-byte ed25519 public key. */
  publicKey: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const encoder = new TextEncoder();

/**
 * Checks a takeover init (parsed JSON from stdin) and returns its three fields.
 *
 * @throws {TypeError | RangeError} naming the field, e.g.
 * `Invalid takeover init: machineId must be a UUID: current value is "x"`.
 */
export function validateTakeoverInit(value: unknown): TakeoverInit {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`Invalid takeover init: must be a JSON object: current value is ${show(value)}`);
  }
  const { machineId, agentUrl, heartbeatIntervalSeconds } = value as Record<string, unknown>;
  if (typeof machineId !== "string" || !UUID.test(machineId)) {
    throw new TypeError(`Invalid takeover init: machineId must be a UUID: current value is ${show(machineId)}`);
  }
  const url = typeof agentUrl === "string" ? URL.parse(agentUrl) : null;
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new TypeError(`Invalid takeover init: agentUrl must be an http(s) URL: current value is ${show(agentUrl)}`);
  }
  if (
    typeof heartbeatIntervalSeconds !== "number" || !Number.isInteger(heartbeatIntervalSeconds) ||
    heartbeatIntervalSeconds < 1 || heartbeatIntervalSeconds > 3600
  ) {
    throw new RangeError(
      `Invalid takeover init: heartbeatIntervalSeconds must be an integer from 1 to 3600: current value is ${
        show(heartbeatIntervalSeconds)
      }`,
    );
  }
  return { machineId, agentUrl: agentUrl as string, heartbeatIntervalSeconds };
}

/**
 * One agent: a machine's identity (key pair) and its conversation with the
 * server. Make it with {@linkcode Agent.create} (takeover) or
 * {@linkcode Agent.fromState} (a detached process continuing with the same key),
 * answer the initializer with {@linkcode takeoverReply}, then {@linkcode run}.
 *
 * ```ts
 * const agent = await Agent.create(init, { hardware: collectHardwareReport });
 * console.log(JSON.stringify(agent.takeoverReply()));
 * const exit = await agent.run(signal); // "stopped" | "superseded" | "never accepted"
 * ```
 */
export class Agent {
  /** The raw 32-byte ed25519 public key the takeover reply carries. */
  readonly publicKey: Uint8Array;
  readonly #init: TakeoverInit;
  readonly #keys: CryptoKeyPair;
  readonly #baseUrl: string;
  readonly #hardware: () => Promise<HardwareReport>;
  readonly #fetch: typeof globalThis.fetch;
  readonly #log: (line: string) => void;
  readonly #acceptGraceMs: number;
  readonly #retryMs: number;
  readonly #requestTimeoutMs: number;
  #running = false;
  #everAccepted = false;
  #lastSentAtMs = 0;
  #heartbeatsAccepted = 0;
  #hardwareReportAccepted = false;
  #lastError: string | undefined;
  #loggedProblem: string | undefined;

  private constructor(init: TakeoverInit, keys: CryptoKeyPair, publicKey: Uint8Array, options: AgentOptions) {
    this.#init = init;
    this.#keys = keys;
    this.publicKey = publicKey;
    this.#baseUrl = init.agentUrl.replace(/\/+$/, "");
    this.#hardware = options.hardware;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#log = options.log ?? (() => {});
    this.#acceptGraceMs = options.acceptGraceMs ?? 600_000;
    this.#retryMs = options.retryMs ?? 1000;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /**
   * Checks `init` and makes the agent, with a fresh key pair unless `options.keys` is given.
   *
   * @throws {TypeError | RangeError} naming the bad field of `init` or `options`.
   */
  static async create(init: TakeoverInit, options: AgentOptions): Promise<Agent> {
    const checked = validateTakeoverInit(init);
    if (typeof options?.hardware !== "function") {
      throw new TypeError("Cannot create agent: options.hardware must be a function");
    }
    checkMs("acceptGraceMs", options.acceptGraceMs, 0);
    checkMs("retryMs", options.retryMs, 1);
    checkMs("requestTimeoutMs", options.requestTimeoutMs, 1);
    const keys = options.keys ?? await generateAgentKeys();
    return new Agent(checked, keys, await exportPublicKey(keys.publicKey), options);
  }

  /**
   * Makes the agent {@linkcode exportState} described, with the same key.
   *
   * @throws {TypeError} when `state` is not an exported state or its keys do not form a pair.
   */
  static async fromState(state: unknown, options: Omit<AgentOptions, "keys">): Promise<Agent> {
    const s = (typeof state === "object" && state !== null ? state : {}) as Partial<Record<keyof AgentState, unknown>>;
    if (s.protocol !== AGENT_PROTOCOL) {
      throw new TypeError(
        `Invalid agent state: protocol must be "${AGENT_PROTOCOL}": current value is ${show(s.protocol)}`,
      );
    }
    const pkcs8 = typeof s.privateKey === "string" ? fromBase64(s.privateKey) : undefined;
    const raw = typeof s.publicKey === "string" ? fromBase64(s.publicKey) : undefined;
    if (pkcs8 === undefined) throw new TypeError("Invalid agent state: privateKey must be base64 PKCS#8");
    if (raw === undefined || raw.length !== 32) throw new TypeError("Invalid agent state: publicKey must be 32 bytes");
    let keys: CryptoKeyPair;
    try {
      keys = {
        privateKey: await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, true, ["sign"]),
        publicKey: await crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, true, ["verify"]),
      };
    } catch (cause) {
      throw new TypeError("Invalid agent state: the keys are not ed25519 keys", { cause });
    }
    const probe = encoder.encode("drover-agent state check");
    const signature = await crypto.subtle.sign({ name: "Ed25519" }, keys.privateKey, probe);
    if (!await crypto.subtle.verify({ name: "Ed25519" }, keys.publicKey, signature, probe)) {
      throw new TypeError("Invalid agent state: privateKey and publicKey are not a pair");
    }
    return await Agent.create(s.init as TakeoverInit, { ...options, keys });
  }

  /** What the agent serialises for a detached process to continue as itself (see {@linkcode fromState}). */
  async exportState(): Promise<AgentState> {
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", this.#keys.privateKey));
    return {
      protocol: AGENT_PROTOCOL,
      init: { ...this.#init },
      privateKey: toBase64(pkcs8),
      publicKey: toBase64(this.publicKey),
    };
  }

  /** The one line the initializer reads on stdout (as JSON). */
  takeoverReply(): TakeoverReply {
    return { protocol: AGENT_PROTOCOL, agentPublicKey: toBase64(this.publicKey) };
  }

  /** The machine this agent runs on. */
  get machineId(): string {
    return this.#init.machineId;
  }

  /** Heartbeats the server answered 2xx. */
  get heartbeatsAccepted(): number {
    return this.#heartbeatsAccepted;
  }

  /** Whether the server accepted the hardware report. */
  get hardwareReportAccepted(): boolean {
    return this.#hardwareReportAccepted;
  }

  /** The latest failure, e.g. `heartbeat: HTTP 503: …`; kept after later successes. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /**
   * Heartbeats at once and then every `heartbeatIntervalSeconds`, and sends
   * the hardware report once after the first accepted request. Transient
   * failures (network, timeout, 408, 429, 5xx, 409 replay) are retried after
   * `retryMs`; 422 (clock) waits for the next interval. Until something is
   * accepted, 401/404 mean "key not recorded yet" and are retried for
   * `acceptGraceMs`; afterwards they mean a newer agent owns the machine.
   *
   * Resolves with why it ended; aborting `signal` ends it promptly ("stopped").
   * @throws {Error} when this agent is already running.
   */
  async run(signal: AbortSignal): Promise<AgentExit> {
    if (this.#running) throw new Error(`Agent for machine ${this.machineId} is already running`);
    this.#running = true;
    try {
      return await this.#loop(signal);
    } catch (error) {
      if (!signal.aborted) throw error;
      this.#say("stopped");
      return "stopped";
    } finally {
      this.#running = false;
    }
  }

  async #loop(signal: AbortSignal): Promise<AgentExit> {
    const intervalMs = this.#init.heartbeatIntervalSeconds * 1000;
    const retryMs = Math.min(this.#retryMs, intervalMs);
    const graceEnd = performance.now() + this.#acceptGraceMs;
    let heartbeatAt = performance.now();
    let reportAt: number | undefined = heartbeatAt; // undefined once accepted or dropped
    this.#say(`heartbeating every ${this.#init.heartbeatIntervalSeconds} s to ${this.#baseUrl}`);
    for (;;) {
      signal.throwIfAborted();
      const now = performance.now();
      if (!this.#everAccepted && now >= graceEnd) {
        this.#say(`never accepted within ${this.#acceptGraceMs} ms; giving up (last error: ${this.#lastError})`);
        return "never accepted";
      }
      // The report waits for a first acceptance: until then it would fail as the heartbeats do.
      const reportDue: boolean = this.#everAccepted && reportAt !== undefined && reportAt <= heartbeatAt;
      const dueAt: number = reportDue ? reportAt ?? now : heartbeatAt;
      const waitMs = (this.#everAccepted ? dueAt : Math.min(dueAt, graceEnd)) - now;
      if (waitMs > 0) {
        await delay(waitMs, undefined, { signal });
        continue;
      }

      const what = reportDue ? "hardware report" : "heartbeat";
      const outcome: Outcome = reportDue ? await this.#sendHardwareReport(signal) : await this.#sendHeartbeat(signal);
      if (outcome.kind === "gone" && this.#everAccepted) {
        this.#lastError = `${what}: ${outcome.problem}`;
        this.#say(`superseded (${this.#lastError}): a newer agent owns this machine; stopping`);
        return "superseded";
      }
      this.#note(what, outcome);
      const soon = outcome.kind === "retry" || outcome.kind === "gone";
      const nextAt = performance.now() + (soon ? retryMs : intervalMs);
      if (!reportDue) heartbeatAt = nextAt;
      else reportAt = this.#afterReport(outcome, nextAt);
    }
  }

  /** Logs a first acceptance, a recovery, or a failure (each repeated failure once). */
  #note(what: string, outcome: Outcome): void {
    if (outcome.kind !== "accepted") {
      this.#lastError = `${what}: ${outcome.problem}`;
      if (this.#lastError === this.#loggedProblem) return;
      this.#loggedProblem = this.#lastError;
      this.#say(this.#everAccepted ? this.#lastError : `${this.#lastError} (retrying: not accepted yet)`);
      return;
    }
    if (!this.#everAccepted) this.#say(`${what} accepted: the server knows this agent's key`);
    else if (this.#loggedProblem !== undefined) this.#say(`${what} accepted again`);
    this.#everAccepted = true;
    this.#loggedProblem = undefined;
  }

  /** When to send the report next; undefined when it is done with. */
  #afterReport(outcome: Outcome, nextAt: number): number | undefined {
    if (outcome.kind === "accepted") {
      this.#hardwareReportAccepted = true;
      this.#say("hardware report accepted");
      return undefined;
    }
    if (outcome.kind === "rejected") {
      this.#say("hardware report dropped: the server refused its body, and would refuse it again");
      return undefined;
    }
    return nextAt;
  }

  async #sendHeartbeat(signal: AbortSignal): Promise<Outcome> {
    const body: HeartbeatRequest = { machineId: this.machineId, sentAt: this.#nextSentAt() };
    const outcome = await this.#post(AgentEndpoint.Heartbeat, body, signal);
    if (outcome.kind === "accepted") this.#heartbeatsAccepted++;
    return outcome;
  }

  async #sendHardwareReport(signal: AbortSignal): Promise<Outcome> {
    let report: HardwareReport;
    try {
      report = await this.#hardware();
    } catch (error) {
      return { kind: "later", problem: `collecting it failed: ${errorText(error)}` };
    }
    const body: HardwareReportRequest = { machineId: this.machineId, sentAt: this.#nextSentAt(), report };
    return await this.#post(AgentEndpoint.HardwareReport, body, signal);
  }

  /** Strictly increasing per agent, so the server's replay check never refuses two quick requests. */
  #nextSentAt(): string {
    this.#lastSentAtMs = Math.max(Date.now(), this.#lastSentAtMs + 1);
    return new Date(this.#lastSentAtMs).toISOString();
  }

  /** One signed POST. Rejects only when `signal` aborts; every other failure is an outcome. */
  async #post(
    endpoint: AgentEndpoint,
    body: HeartbeatRequest | HardwareReportRequest,
    signal: AbortSignal,
  ): Promise<Outcome> {
    signal.throwIfAborted();
    const path = AGENT_API_PREFIX + endpoint;
    const bytes = encoder.encode(JSON.stringify(body));
    const signature = await signRequest(this.#keys.privateKey, path, bytes);
    // One controller for both the caller's stop and the per-request deadline, with no timer left behind.
    const request = new AbortController();
    const onAbort = () => request.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      request.abort();
    }, this.#requestTimeoutMs);
    try {
      const response = await this.#fetch(this.#baseUrl + path, {
        method: "POST",
        headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature },
        body: bytes,
        signal: request.signal,
      });
      const text = await response.text();
      return classify(response, text);
    } catch (error) {
      signal.throwIfAborted();
      const problem = timedOut ? `no answer within ${this.#requestTimeoutMs} ms` : `network: ${errorText(error)}`;
      return { kind: "retry", problem };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #say(line: string): void {
    this.#log(`machine ${this.machineId}: ${line}`);
  }
}

/**
 * What an answer means for the agent: accepted; retry soon (transient);
 * later (at the next interval); rejected (this body never will be);
 * gone (401/404: key not recorded yet, or superseded once something was accepted).
 */
type Outcome =
  | { kind: "accepted" }
  | { kind: "retry" | "later" | "rejected" | "gone"; problem: string };

function classify(response: Response, text: string): Outcome {
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: "accepted" };
  const problem = `HTTP ${status}${describeBody(text)}`;
  if (status === 401 || status === 404) return { kind: "gone", problem };
  if (status === 400) return { kind: "rejected", problem };
  // 409: our sentAt is not after the last accepted one; the next, later sentAt settles it.
  if (status === 409 || status === 408 || status === 429 || status >= 500) return { kind: "retry", problem };
  if (status === 422) {
    const date = response.headers.get("date");
    return { kind: "later", problem: `${problem}: this machine's clock is off${date ? ` (server time ${date})` : ""}` };
  }
  return { kind: "later", problem };
}

/** `: <error> (field <field>)` from the server's JSON error body, else the start of the text. */
function describeBody(text: string): string {
  try {
    const { error, field } = JSON.parse(text);
    if (typeof error === "string") return `: ${error}${typeof field === "string" ? ` (field ${field})` : ""}`;
  } catch {
    // not JSON: fall through
  }
  const trimmed = text.trim().slice(0, 200);
  return trimmed ? `: ${trimmed}` : "";
}

function checkMs(name: string, value: number | undefined, min: number): void {
  if (value === undefined) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`Cannot create agent: ${name} must be a number >= ${min}: current value is ${show(value)}`);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function show(value: unknown): string {
  return value === undefined ? "undefined" : JSON.stringify(value) ?? String(value);
}
