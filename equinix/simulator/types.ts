/**
 * The simulator's in-process surface: what tests, the embedded dev mode and
 * the control loops' simulated agent starter use. The HTTP side speaks the
 * Metal API subset (see server.ts); this is the side a test holds.
 *
 * @module
 */
import type { Device, DeviceState, HardwareReservation } from "../schemas.ts";

export interface SimulatorOptions {
  /** The token clients must send as `X-Auth-Token`. Default: a random one. */
  token?: string;
  /** The one project the simulator holds, a UUID (kept in lower case). Default: a random one. */
  projectId?: string;
  /** Provisionable hardware reservations created at start. Default 5. */
  reservations?: number;
  /** Plan slug of the reservations created at start. Default "c3.small.x86". */
  plan?: string;
  /** Metro codes the reservations are spread over, round robin. Default ["sv", "da"]. */
  metros?: string[];
  /** The devices' clock. */
  timing?: Partial<SimulatorTiming>;
  /** Faults active from the start. */
  faults?: Partial<FaultSettings>;
  /** Per device: its own provisioning time, or a provisioning that fails (the device ends `failed`). */
  deviceProfile?: DeviceProfile;
  /** Listen address. Default 127.0.0.1, port 0 (a free port). */
  hostname?: string;
  port?: number;
  /** Called once per API request after its reply was decided (tests record these). */
  onExchange?: (exchange: Exchange) => void;
  /**
   * Starts an agent on a device's machine for `POST /_sim/devices/{id}/agent`
   * (body: the takeover init) and resolves with its takeover reply. Without
   * it, that endpoint answers 501. `deno task sim` supplies Drover's agent.
   */
  startAgent?: (machine: SimulatedMachine, deviceId: string, init: unknown) => Promise<unknown>;
}

/**
 * How one device is provisioned, by the reservation it is created on (its
 * index among the reservations, oldest first) and its hostname.
 */
export type DeviceProfile = (device: { reservationIndex: number; hostname: string }) => {
  /** Instead of the timing's `provisioningMs`. */
  provisioningMs?: number;
  /** The device ends `failed` instead of `active` (its reservation stays taken). */
  failProvisioning?: boolean;
} | undefined;

/** How long a device stays in each transient state. */
export interface SimulatorTiming {
  /** queued → provisioning. Default 300 ms. */
  queuedMs: number;
  /** provisioning → active. Default 1,200 ms. */
  provisioningMs: number;
  /** rebooting (powering_off → powering_on) → active. Default 800 ms. */
  rebootMs: number;
  /** deprovisioning → gone (the reservation is free again). Default 500 ms. */
  deprovisionMs: number;
}

/** Faults that stay on until changed. */
export interface FaultSettings {
  /** Added before every API reply, in milliseconds. */
  latencyMs: number;
  /** Fraction (0..1) of API requests answered 500 before anything is changed (see {@link FaultController}). */
  serverErrorRate: number;
  /**
   * Fraction (0..1) of API requests that are carried out (their change made)
   * and whose reply is then never sent, as with {@link FaultController.loseNextReply}.
   */
  lostReplyRate: number;
}

/** One API request and the reply it got (or that it would have got, for a lost reply). */
export interface Exchange {
  /** The OpenAPI operationId, e.g. "findDeviceById"; "unknown" for a path the simulator does not serve. */
  operationId: string;
  method: string;
  /** The path template as in the OpenAPI file, e.g. "/devices/{id}" (without the /metal/v1 base). */
  pathTemplate: string;
  /** Path and query as requested. */
  url: string;
  /** The request's JSON body; its raw text when it is not JSON; undefined when empty. */
  requestBody: unknown;
  status: number;
  /** Parsed JSON reply; undefined for an empty body (204, 202). */
  responseBody: unknown;
  /** True when the reply was lost on purpose (the client saw no reply). */
  lost: boolean;
  /**
   * The fault that produced this reply, if any: "injected-error" is a
   * `failNext` status that is neither 429 nor 5xx.
   */
  fault?: "server-error" | "rate-limit" | "lost-reply" | "injected-error";
}

export interface Simulator extends AsyncDisposable {
  /** The API base, e.g. "http://127.0.0.1:41234/metal/v1". */
  readonly url: string;
  /** The origin, e.g. "http://127.0.0.1:41234" (the admin endpoint is at /_sim/). */
  readonly origin: string;
  readonly token: string;
  readonly projectId: string;
  readonly faults: FaultController;
  readonly fleet: SimulatedFleet;
  readonly stats: SimulatorStats;
  /**
   * Stops serving; replies never sent (lost replies) are dropped (a client
   * still waiting on one gets a 503 so that shutdown need not wait for it);
   * the device clock stops; simulated machines go down. Idempotent.
   */
  close(): Promise<void>;
}

export interface SimulatorStats {
  /** API requests received (authenticated or not). */
  readonly requests: number;
  /** Requests per operationId. */
  readonly byOperation: Readonly<Record<string, number>>;
  /** The most API requests that were ever in flight at once. */
  readonly maxInFlight: number;
  /** performance.now() at the arrival of each API request, in order (for spacing checks). */
  readonly arrivals: readonly number[];
}

/**
 * Fault injection. The 5xx rate and the queued faults apply to authenticated
 * requests of served operations: a request answered 401, or one to a path
 * the simulator does not serve, takes none of them.
 */
export interface FaultController {
  /** Changes the standing faults (latency, 5xx rate, lost-reply rate). */
  set(settings: Partial<FaultSettings>): void;
  /** The next `count` API requests (of `operationId` only, if given) are answered with `status` (default 503), changing nothing. */
  failNext(count: number, options?: { status?: number; operationId?: string }): void;
  /** The next `count` API requests (of `operationId` only, if given) are answered 429 with `Retry-After: retryAfterSeconds`. */
  rateLimitNext(count: number, retryAfterSeconds: number, options?: { operationId?: string }): void;
  /**
   * The next request of `operationId` is carried out (its change is made)
   * and then its reply is never sent: the client sees no answer until its
   * own timeout, as after a lost connection.
   */
  loseNextReply(operationId: string): void;
  /** Another API user creates a device on the reservation now; returns that device. */
  takeReservation(reservationId: string): Device;
  /** Removes every fault, standing and queued. */
  clear(): void;
}

/** Read access to the simulated provider's state, and its machines. */
export interface SimulatedFleet {
  /** Every reservation, oldest first, with its device in full (as with `include=device`). */
  reservations(): HardwareReservation[];
  /** Every device, oldest first, deprovisioning ones included until they are gone. */
  devices(): Device[];
  /** The device, or undefined once it is gone (deprovisioned) or if it never existed. */
  device(id: string): Device | undefined;
  /**
   * Adds reservations (e.g. for paging tests), spread over the configured metros unless `metro` is given;
   * `provisionable: false` adds ones that cannot be provisioned even while free. Returns them.
   */
  addReservations(
    count: number,
    options?: { plan?: string; metro?: string; provisionable?: boolean },
  ): HardwareReservation[];
  /**
   * Resolves when the device reaches `state` (at once if it is there); rejects with the signal's reason.
   * "deleted" resolves once the device is gone (deprovisioned). Rejects with a DeviceGoneError
   * (errors.ts) when the device is, or goes, away first, and a SimulatorClosedError on close.
   */
  waitForState(deviceId: string, state: DeviceState, signal?: AbortSignal): Promise<Device>;
  /** The machine behind an existing device, or undefined. */
  machine(deviceId: string): SimulatedMachine | undefined;
}

/** A simulated server: an agent runs on it in-process while the device is active. */
export interface SimulatedMachine {
  readonly deviceId: string;
  /** The device's public IPv4 address. */
  readonly publicIPv4: string;
  /**
   * How many times the machine has booted: 1 after provisioning, +1 each
   * time its device is active again (reboot, power_on, reinstall).
   */
  readonly boots: number;
  /** True while the device is active (powered on and provisioned). */
  readonly running: boolean;
  /**
   * Runs a program (the agent) on the machine. The program's signal aborts
   * with a MachineDownError (errors.ts) when the machine goes down (reboot,
   * power off, reinstall, delete, simulator close); the returned promise
   * settles with the program's result.
   * @throws {MachineNotRunningError} (errors.ts, as a rejection) when the device is not active
   */
  run<T>(program: (signal: AbortSignal) => Promise<T>): Promise<T>;
}
