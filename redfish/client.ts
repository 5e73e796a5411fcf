/**
 * {@linkcode RedfishClient}: one BMC's systems. Discovery (the service root,
 * the Systems collection, ActionInfo), reading a system's state, and the
 * power actions; every request goes through the BMC's transport (one in
 * flight, one session, retries).
 *
 * @module
 */
import type { z } from "zod";
import { untilAborted } from "./abortable.ts";
import type { HttpReply } from "./bmc_http.ts";
import { PowerTransitionError, RedfishError, SystemNotFoundError, UnsupportedResetError } from "./errors.ts";
import type { RedfishMetrics } from "./metrics.ts";
import {
  type PowerActionResult,
  type PowerOptions,
  type PowerTarget,
  type ResetReply,
  runPowerAction,
} from "./power_action.ts";
import { choosePlan, describePlan, planResetTypes, type PowerAction } from "./power_plan.ts";
import { parseReplyJson } from "./reply_json.ts";
import { outcomeUnknown } from "./retry_policy.ts";
import { ActionInfoSchema, CollectionSchema, ComputerSystemSchema, ServiceRootSchema } from "./schemas.ts";
import {
  ASSUMED_RESET_TYPES,
  readingOf,
  type ResetType,
  resetTypesOf,
  type SystemReading,
  type SystemState,
} from "./system_state.ts";
import { followTask } from "./task_monitor.ts";
import type { Transport } from "./transport.ts";

/** Where the service root says things are. */
interface Discovery {
  systemsPath: string;
}

/** What a client is made of; built by `RedfishPool.client`. */
export interface ClientParts {
  transport: Transport;
  metrics: RedfishMetrics;
  requestTimeoutMs: number;
  /** Called once the client has closed (the pool forgets it). */
  onClosed: () => void;
}

/**
 * One BMC. Get one from `RedfishPool.client(endpoint)`; the pool shares its
 * in-flight limit and metrics among its clients.
 *
 * Every method takes a `signal`: aborting it ends the method's waits and
 * requests at once, and the method rejects with the signal's reason. After
 * {@linkcode close}, every method rejects with `ClientClosedError`.
 */
export class RedfishClient {
  /** The BMC's origin, e.g. `https://10.21.4.17`. */
  readonly origin: string;
  readonly #parts: ClientParts;
  #discovery: Promise<Discovery> | undefined;
  /** The only system, once found. */
  #onlySystem: string | undefined;
  /** ActionInfo paths already read: the allowable ResetTypes do not change while the BMC runs. */
  readonly #actionInfo = new Map<string, ResetType[]>();
  /** Each system's Reset target, from its latest reading. */
  readonly #resetTargets = new Map<string, string>();
  #closed: Promise<void> | undefined;

  /** Not for direct use: call `RedfishPool.client(endpoint)`. */
  constructor(parts: ClientParts) {
    this.#parts = parts;
    this.origin = parts.transport.origin;
  }

  /**
   * Reads a system's state. `systemPath` is its path (e.g.
   * `/redfish/v1/Systems/1`); undefined means the BMC's only system. The
   * service root and the only system's path are read once and kept.
   *
   * @throws {SystemNotFoundError} when the path does not exist, or none was
   *   given and the BMC has not exactly one system (the error lists them).
   * @throws {RedfishError} when the BMC answers with an error (401: wrong credentials).
   * @throws {BmcUnreachableError} / {BmcTimeoutError} when the BMC stays unreachable through the retries.
   */
  async readSystem(systemPath: string | undefined, options: { signal?: AbortSignal } = {}): Promise<SystemState> {
    const reading = await this.#read(systemPath, options.signal);
    return reading.state;
  }

  /**
   * Powers the system on and waits until On has settled. Sends nothing when
   * it is On already; else On, ForceOn or PushPowerButton, whichever the
   * system allows first.
   *
   * @throws {UnsupportedResetError} when the system allows none of them (nothing was sent).
   * @throws {PowerTransitionError} when On was not seen within `settleTimeoutMs`; read the state before retrying.
   */
  powerOn(systemPath: string | undefined, options: PowerOptions = {}): Promise<PowerActionResult> {
    return this.#power("on", systemPath, options);
  }

  /**
   * Powers the system off and waits until Off has settled: GracefulShutdown,
   * then ForceOff when not Off after `gracefulTimeoutMs` (ForceOff at once
   * when GracefulShutdown is not allowed). Sends nothing when Off already.
   *
   * @throws {UnsupportedResetError} when neither is allowed (nothing was sent).
   * @throws {PowerTransitionError} when Off was not seen in time.
   */
  powerOff(systemPath: string | undefined, options: PowerOptions = {}): Promise<PowerActionResult> {
    return this.#power("off", systemPath, options);
  }

  /**
   * Restarts the system and waits until it is seen restarted and On has
   * settled: GracefulRestart, then a forced restart when not restarted after
   * `gracefulTimeoutMs` (at once when GracefulRestart is not allowed). A
   * system that is Off is powered on instead. {@linkcode plan} says which
   * ResetTypes this system would get.
   *
   * A reset whose reply is lost is never resent: the state read afterwards
   * decides, so a machine is never reset twice by one call.
   *
   * @throws {UnsupportedResetError} when no restart is allowed (nothing was sent).
   * @throws {PowerTransitionError} when the restart was not seen in time, or cannot be seen at all.
   */
  restart(systemPath: string | undefined, options: PowerOptions = {}): Promise<PowerActionResult> {
    return this.#power("restart", systemPath, options);
  }

  /**
   * What `action` would send to a system in `state` (from {@linkcode readSystem}),
   * for an operator to confirm: e.g. `["GracefulRestart", "ForceRestart"]` and
   * "GracefulRestart, then ForceRestart if not restarted after 120 s".
   * Sends nothing.
   *
   * @throws {UnsupportedResetError} when the system allows no way to do it.
   */
  plan(
    action: PowerAction,
    state: SystemState,
    options: { gracefulTimeoutMs?: number } = {},
  ): { resetTypes: ResetType[]; description: string } {
    const plan = choosePlan(action, state);
    if (plan.kind === "unsupported") {
      throw new UnsupportedResetError(this.origin, state.path, action, state.resetTypes, plan.needed);
    }
    const wait = state.powerState === "PoweringOn" || state.powerState === "PoweringOff"
      ? `once ${state.powerState} ends: `
      : "";
    return {
      resetTypes: planResetTypes(plan),
      description: wait + describePlan(plan, options.gracefulTimeoutMs ?? 120_000),
    };
  }

  /**
   * Closes the client: calls waiting or in flight reject with
   * `ClientClosedError`, the session is deleted (errors ignored, for at most
   * the request timeout), and the sockets close. Idempotent.
   */
  close(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#closed ??= (async () => {
      const bound = AbortSignal.timeout(this.#parts.requestTimeoutMs);
      try {
        await this.#parts.transport.close(options.signal ? AbortSignal.any([options.signal, bound]) : bound);
      } finally {
        this.#parts.onClosed();
      }
    })();
    return this.#closed;
  }

  async #power(action: PowerAction, systemPath: string | undefined, options: PowerOptions): Promise<PowerActionResult> {
    const { metrics } = this.#parts;
    const started = performance.now();
    let result = "error";
    try {
      const path = await this.#systemPath(systemPath, options.signal);
      const outcome = await runPowerAction(this.#target(path), action, options);
      result = "ok";
      return outcome;
    } catch (error) {
      result = options.signal?.aborted && error === options.signal.reason
        ? "aborted"
        : error instanceof UnsupportedResetError
        ? "unsupported"
        : error instanceof PowerTransitionError
        ? "transition_failed"
        : "error";
      throw error;
    } finally {
      metrics.powerActions.inc({ action, result });
      metrics.powerActionSeconds.observe({ action }, (performance.now() - started) / 1000);
    }
  }

  #target(path: string): PowerTarget {
    return {
      origin: this.origin,
      path,
      requestTimeoutMs: this.#parts.requestTimeoutMs,
      read: async (signal) => (await this.#read(path, signal)).state,
      reset: (resetType, conflictMeansDone, signal) => this.#reset(path, resetType, conflictMeansDone, signal),
      followTask: (monitor, options) => followTask(this.#parts.transport, monitor, options),
    };
  }

  /** Sends one ComputerSystem.Reset; see {@linkcode ResetReply}. */
  async #reset(
    path: string,
    resetType: ResetType,
    conflictMeansDone: boolean,
    signal: AbortSignal,
  ): Promise<ResetReply> {
    const { metrics, transport } = this.#parts;
    const target = this.#resetTargets.get(path) ?? `${path}/Actions/ComputerSystem.Reset`;
    let reply: HttpReply;
    try {
      reply = await transport.request({
        operation: "reset",
        method: "POST",
        path: target,
        body: { ResetType: resetType },
        auth: true,
        retry: "once",
        accept: conflictMeansDone ? [409] : [],
        freshConnection: true,
      }, signal);
    } catch (error) {
      if (!signal.aborted && outcomeUnknown(error)) {
        metrics.resets.inc({ reset_type: resetType, outcome: "unknown" });
        return { kind: "unknown" };
      }
      metrics.resets.inc({ reset_type: resetType, outcome: "failed" });
      throw error;
    }
    if (reply.status === 409) {
      metrics.resets.inc({ reset_type: resetType, outcome: "conflict" });
      return { kind: "conflict" };
    }
    metrics.resets.inc({ reset_type: resetType, outcome: "accepted" });
    const location = reply.headers.location;
    const monitor = reply.status === 202 ? pathOf(Array.isArray(location) ? location[0] : location) : undefined;
    return { kind: "accepted", taskMonitor: monitor };
  }

  /** Reads the system at `systemPath` (or the only one), with its allowable ResetTypes filled in. */
  async #read(systemPath: string | undefined, signal: AbortSignal | undefined): Promise<SystemReading> {
    const path = await this.#systemPath(systemPath, signal);
    let reply: HttpReply;
    try {
      reply = await this.#get("system", path, signal);
    } catch (error) {
      if (error instanceof RedfishError && error.status === 404) {
        throw new SystemNotFoundError(this.origin, path, await this.#members(signal), { cause: error });
      }
      throw error;
    }
    const reading = readingOf(
      path,
      this.#json(reply, path, ComputerSystemSchema),
    );
    if (reading.resetTarget !== undefined) this.#resetTargets.set(path, reading.resetTarget);
    if (reading.resetTarget !== undefined && reading.state.resetTypes.length === 0) {
      reading.state.resetTypes = reading.actionInfo === undefined
        ? [...ASSUMED_RESET_TYPES]
        : await this.#allowedByActionInfo(reading.actionInfo, signal);
    }
    return reading;
  }

  /** The ResetTypes an ActionInfo allows (read once per path); the assumed ones when it lists none or is missing. */
  async #allowedByActionInfo(path: string, signal: AbortSignal | undefined): Promise<ResetType[]> {
    const known = this.#actionInfo.get(path);
    if (known !== undefined) return [...known];
    let allowed: ResetType[];
    try {
      const info = this.#json(await this.#get("action_info", path, signal), path, ActionInfoSchema);
      const parameter = info.Parameters?.find((p) => p.Name === "ResetType");
      allowed = resetTypesOf(parameter?.AllowableValues);
    } catch (error) {
      // A broken link to the ActionInfo is the BMC's bug: fall back to the assumption as if there were none.
      if (!(error instanceof RedfishError && error.status >= 400 && error.status < 500)) throw error;
      allowed = [];
    }
    if (allowed.length === 0) allowed = [...ASSUMED_RESET_TYPES];
    this.#actionInfo.set(path, allowed);
    return [...allowed];
  }

  /** The path asked for, or the only member of Systems. */
  async #systemPath(systemPath: string | undefined, signal: AbortSignal | undefined): Promise<string> {
    if (systemPath !== undefined) {
      if (!systemPath.startsWith("/redfish/v1/")) {
        throw new TypeError(
          `Cannot read system: systemPath must start with /redfish/v1/: current value is "${systemPath}"`,
        );
      }
      await this.#discover(signal);
      return systemPath;
    }
    if (this.#onlySystem !== undefined) return this.#onlySystem;
    const members = await this.#members(signal);
    if (members.length !== 1) throw new SystemNotFoundError(this.origin, undefined, members);
    this.#onlySystem = members[0];
    return members[0];
  }

  async #members(signal: AbortSignal | undefined): Promise<string[]> {
    const { systemsPath } = await this.#discover(signal);
    const reply = await this.#get("systems", systemsPath, signal);
    return this.#json(reply, systemsPath, CollectionSchema).Members
      .map((m) => m["@odata.id"]);
  }

  /**
   * Reads the service root once (a failed read is tried again by the next
   * call). The read is shared by concurrent callers, so it does not take one
   * caller's signal (only closing ends it); each caller stops waiting when
   * its own signal aborts.
   */
  #discover(signal: AbortSignal | undefined): Promise<Discovery> {
    this.#discovery ??= this.#readRoot().catch((error) => {
      this.#discovery = undefined;
      throw error;
    });
    return untilAborted(this.#discovery, signal);
  }

  async #readRoot(): Promise<Discovery> {
    const path = "/redfish/v1/";
    const reply = await this.#parts.transport.request({
      operation: "service_root",
      method: "GET",
      path,
      auth: false,
      retry: "idempotent",
    });
    const root = this.#json(reply, path, ServiceRootSchema);
    this.#parts.transport.configureAuth(root.Links?.Sessions?.["@odata.id"]);
    return { systemsPath: root.Systems?.["@odata.id"] ?? "/redfish/v1/Systems" };
  }

  #get(operation: "systems" | "system" | "action_info", path: string, signal: AbortSignal | undefined) {
    return this.#parts.transport.request({ operation, method: "GET", path, auth: true, retry: "idempotent" }, signal);
  }

  /** The JSON body of the reply to `GET path`, as `schema` reads it (else `MalformedReplyError`). */
  #json<T>(reply: HttpReply, path: string, schema: z.ZodType<T>): T {
    return parseReplyJson(reply, { origin: this.origin, method: "GET", path }, schema);
  }
}

/** The path of a `Location` header (a URL or a path), or undefined. */
function pathOf(location: string | undefined): string | undefined {
  if (location === undefined || location === "") return undefined;
  try {
    const url = new URL(location, "http://bmc.invalid");
    return url.pathname + url.search;
  } catch {
    return undefined;
  }
}
