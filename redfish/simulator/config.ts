/**
 * The simulator's options, their defaults, and their checks: what callers
 * pass ({@link BmcSimulatorOptions}, {@link SimulatedSystemOptions}) and
 * what the rest of the simulator reads ({@link BmcConfig}), resolved in one
 * place.
 *
 * @module
 */

/** `PowerState` of a ComputerSystem, as the simulator shows it. */
export type PowerState = "On" | "Off" | "PoweringOn" | "PoweringOff";

/** The `ResetType` values the simulator understands (Redfish's `Resource.ResetType`, less `Suspend`/`Pause`/…). */
export type ResetType =
  | "On"
  | "ForceOff"
  | "GracefulShutdown"
  | "GracefulRestart"
  | "ForceRestart"
  | "Nmi"
  | "ForceOn"
  | "PushPowerButton"
  | "PowerCycle";

/** Every {@link ResetType}. */
export const RESET_TYPES: readonly ResetType[] = [
  "On",
  "ForceOff",
  "GracefulShutdown",
  "GracefulRestart",
  "ForceRestart",
  "Nmi",
  "ForceOn",
  "PushPowerButton",
  "PowerCycle",
];

/** `ResetType@Redfish.AllowableValues` when a system's options leave `resetTypes` unset. */
export const DEFAULT_RESET_TYPES: readonly ResetType[] = [
  "On",
  "ForceOff",
  "GracefulShutdown",
  "GracefulRestart",
  "ForceRestart",
  "Nmi",
  "PowerCycle",
];

/** One simulated ComputerSystem behind a BMC. */
export interface SimulatedSystemOptions {
  /** Member Id, `[A-Za-z0-9._-]{1,64}`. @default "1", "2", … by position */
  id?: string;
  /** Initial power. @default "On" */
  powerState?: "On" | "Off";
  /** `ResetType@Redfish.AllowableValues`; any other ResetType is refused with 400. @default {@link DEFAULT_RESET_TYPES} */
  resetTypes?: ResetType[];
  /** GracefulShutdown/GracefulRestart take effect; false: an OS that ignores ACPI (accepted, nothing happens). @default true */
  gracefulHonoured?: boolean;
  /** Time spent in PoweringOn / PoweringOff, and a warm restart's down time. @default 500 */
  transitionMs?: number;
  /**
   * How Reset answers: "204" no body; "200" a Redfish success body; "202" a
   * Task with a task monitor (`Location`) that answers 202 until the
   * transition is over, then 204.
   * @default "204"
   */
  resetReply?: "204" | "200" | "202";
  /** On when already On / ForceOff when already Off: "ok" (2xx, nothing happens) or "conflict" (409, as Dell iDRAC). @default "ok" */
  redundantReset?: "ok" | "conflict";
  /** Show LastResetTime (updated on every reset that took effect). @default true */
  reportsLastResetTime?: boolean;
}

/** A simulated BMC: one Redfish service with its systems. */
export interface BmcSimulatorOptions {
  /** A count, or one entry per system. @default 1 */
  systems?: number | SimulatedSystemOptions[];
  /** The login (Basic and sessions). @default "admin" */
  username?: string;
  /** Its password. @default "password" */
  password?: string;
  /**
   * "session": SessionService and `Links.Sessions` in the service root (HTTP
   * Basic is accepted too, as on real BMCs); "basic": HTTP Basic only, no
   * SessionService at all.
   * @default "session"
   */
  auth?: "session" | "basic";
  /** Open sessions at most; a further POST answers 503 SessionLimitExceeded. @default 4 */
  maxSessions?: number;
  /** A session idle this long expires (its token then answers 401 NoValidSession). @default 1800 */
  sessionTimeoutSeconds?: number;
  /** PEM certificate chain and key: serve https. */
  tls?: { cert: string; key: string };
  /** Where to listen. @default "127.0.0.1" */
  hostname?: string;
  /** The port to listen on. @default 0 (a free port) */
  port?: number;
  /** Every reply delayed by this (uniform in the range); also `faults.latencyMs`, which can change it. */
  latencyMs?: number | { min: number; max: number };
}

/** A system's options with every default applied. */
export type SystemConfig = Required<SimulatedSystemOptions>;

/** A BMC's options with every default applied and checked. */
export interface BmcConfig {
  systems: SystemConfig[];
  username: string;
  password: string;
  auth: "session" | "basic";
  maxSessions: number;
  sessionTimeoutSeconds: number;
  tls: { cert: string; key: string } | undefined;
  hostname: string;
  port: number;
  latencyMs: number | { min: number; max: number } | undefined;
}

const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The options with their defaults.
 * @throws {RangeError} for a value out of range (a negative duration, a duplicate system id, an unknown ResetType, …)
 * @throws {TypeError} for a value of the wrong type
 */
export function resolveBmcOptions(options: BmcSimulatorOptions = {}): BmcConfig {
  const systemOptions = typeof options.systems === "number" || options.systems === undefined
    ? Array.from({ length: checkCount("systems", options.systems ?? 1) }, () => ({}))
    : options.systems;
  if (systemOptions.length === 0) fail("systems must be at least 1", 0);
  const systems = systemOptions.map((system, index) => resolveSystem(system, index));
  const ids = systems.map((s) => s.id);
  const duplicate = ids.find((id, i) => ids.indexOf(id) !== i);
  if (duplicate !== undefined) fail("systems must have distinct ids", duplicate);

  const config: BmcConfig = {
    systems,
    username: options.username ?? "admin",
    password: options.password ?? "password",
    auth: options.auth ?? "session",
    maxSessions: options.maxSessions ?? 4,
    sessionTimeoutSeconds: options.sessionTimeoutSeconds ?? 1800,
    tls: options.tls,
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    latencyMs: options.latencyMs,
  };
  if (config.username === "" || config.username.includes(":")) fail("username must be non-empty, without ':'", "…");
  if (!["session", "basic"].includes(config.auth)) fail('auth must be "session" or "basic"', config.auth);
  if (!Number.isInteger(config.maxSessions) || config.maxSessions < 1) {
    fail("maxSessions must be an integer >= 1", config.maxSessions);
  }
  if (!(config.sessionTimeoutSeconds > 0)) fail("sessionTimeoutSeconds must be > 0", config.sessionTimeoutSeconds);
  if (!Number.isInteger(config.port) || config.port < 0 || config.port > 65535) {
    fail("port must be an integer from 0 to 65535", config.port);
  }
  checkLatency("latencyMs", config.latencyMs);
  return config;
}

function resolveSystem(options: SimulatedSystemOptions, index: number): SystemConfig {
  const system: SystemConfig = {
    id: options.id ?? String(index + 1),
    powerState: options.powerState ?? "On",
    resetTypes: [...(options.resetTypes ?? DEFAULT_RESET_TYPES)],
    gracefulHonoured: options.gracefulHonoured ?? true,
    transitionMs: options.transitionMs ?? 500,
    resetReply: options.resetReply ?? "204",
    redundantReset: options.redundantReset ?? "ok",
    reportsLastResetTime: options.reportsLastResetTime ?? true,
  };
  const where = `systems[${index}]`;
  if (!ID_PATTERN.test(system.id)) fail(`${where}.id must match ${ID_PATTERN}`, system.id);
  if (system.powerState !== "On" && system.powerState !== "Off") {
    fail(`${where}.powerState must be "On" or "Off"`, system.powerState);
  }
  const unknown = system.resetTypes.find((t) => !RESET_TYPES.includes(t));
  if (unknown !== undefined) fail(`${where}.resetTypes must be ResetTypes (${RESET_TYPES.join(", ")})`, unknown);
  if (system.resetTypes.length === 0) fail(`${where}.resetTypes must not be empty`, system.resetTypes);
  if (!Number.isFinite(system.transitionMs) || system.transitionMs < 0) {
    fail(`${where}.transitionMs must be >= 0`, system.transitionMs);
  }
  if (!["204", "200", "202"].includes(system.resetReply)) {
    fail(`${where}.resetReply must be "204", "200" or "202"`, system.resetReply);
  }
  if (!["ok", "conflict"].includes(system.redundantReset)) {
    fail(`${where}.redundantReset must be "ok" or "conflict"`, system.redundantReset);
  }
  return system;
}

/**
 * Checks a latency setting (options or faults): a number >= 0, or a range
 * with 0 <= min <= max.
 * @throws {RangeError} when it is neither
 */
export function checkLatency(name: string, latency: number | { min: number; max: number } | undefined): void {
  if (latency === undefined) return;
  const ok = typeof latency === "number"
    ? Number.isFinite(latency) && latency >= 0
    : Number.isFinite(latency.min) && Number.isFinite(latency.max) && latency.min >= 0 && latency.min <= latency.max;
  if (!ok) fail(`${name} must be a number >= 0 or { min, max } with 0 <= min <= max`, latency);
}

function checkCount(name: string, count: number): number {
  if (!Number.isInteger(count) || count < 1) fail(`${name} must be an integer >= 1`, count);
  return count;
}

function fail(what: string, value: unknown): never {
  throw new RangeError(`Cannot start the BMC simulator: ${what}: current value is ${JSON.stringify(value)}`);
}
