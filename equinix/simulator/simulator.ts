/**
 * Starting and closing a simulator: resolves the options, builds the state,
 * faults and app, and serves them on `Deno.serve`.
 *
 * @module
 */
import { type Device, isUuid } from "../schemas.ts";
import { SimulatorClosedError } from "./errors.ts";
import { Faults } from "./faults.ts";
import { Fleet } from "./fleet.ts";
import { operationHandlers } from "./handlers.ts";
import { Renderer } from "./render.ts";
import { API_BASE_PATH } from "./routes.ts";
import { createApp } from "./server.ts";
import { SSHKeyStore } from "./ssh_keys.ts";
import { ProviderState } from "./state.ts";
import { RequestStats } from "./stats.ts";
import type { Simulator, SimulatorOptions, SimulatorTiming } from "./types.ts";

/** The device clock when `timing` leaves a duration unset. */
export const DEFAULT_TIMING: Readonly<SimulatorTiming> = {
  queuedMs: 300,
  provisioningMs: 1200,
  rebootMs: 800,
  deprovisionMs: 500,
};
export const DEFAULT_RESERVATIONS = 5;
export const DEFAULT_PLAN = "c3.small.x86";
export const DEFAULT_METROS: readonly string[] = ["sv", "da"];
const DEFAULT_HOSTNAME = "127.0.0.1";

/** The operating system of the devices `takeReservation` creates. */
const SOMEONE_ELSES_OS = "ubuntu_22_04";

/**
 * Starts a simulator listening on `options.hostname`:`options.port` (default
 * 127.0.0.1 and a free port) with `options.reservations` provisionable
 * reservations. Close it with `close()` or `await using`.
 * @throws {RangeError} for options out of range (a project id that is not a UUID, negative durations, …)
 */
export function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  // A bad option or a taken port rejects instead of throwing.
  return Promise.try(() => createSimulator(options));
}

function createSimulator(options: SimulatorOptions): Simulator {
  const token = options.token ?? randomToken();
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const metros = options.metros ?? DEFAULT_METROS;
  checkOptions({ token, projectId: options.projectId, timing, metros });
  // Lower case, as the client sends it (and as the API's ids are).
  const projectId = options.projectId?.toLowerCase() ?? crypto.randomUUID();

  const state = new ProviderState({
    projectId,
    timing,
    defaultPlan: options.plan ?? DEFAULT_PLAN,
    metros,
    deviceProfile: options.deviceProfile,
  });
  state.addReservations(options.reservations ?? DEFAULT_RESERVATIONS);
  const renderer = new Renderer(state);
  const fleet = new Fleet(state, renderer);
  const takeReservation = (reservationId: string) => takeReservationFor(state, renderer, reservationId);
  const faults = new Faults(takeReservation, options.faults);
  const stats = new RequestStats();
  const closing = new AbortController();

  const app = createApp({
    token,
    handlers: operationHandlers({ state, keys: new SSHKeyStore(), renderer }),
    faults,
    stats,
    onExchange: options.onExchange,
    closing: closing.signal,
    takeReservation,
    machine: (deviceId) => fleet.machine(deviceId),
    startAgent: options.startAgent,
    describeState: () => ({
      projectId,
      faults: { ...faults.settings, ...faults.pending() },
      stats,
      reservations: fleet.reservations(),
      devices: fleet.devices(),
    }),
  });
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const server = Deno.serve({ hostname, port: options.port ?? 0, onListen: () => {} }, app.fetch);
  const origin = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${server.addr.port}`;

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      // Requests held open (lost replies, latency) must end first: shutdown waits for every handler.
      closing.abort(new SimulatorClosedError());
      await server.shutdown();
      state.close();
    })();
    return closed;
  };
  return {
    url: origin + API_BASE_PATH,
    origin,
    token,
    projectId,
    faults,
    fleet,
    stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Someone else (no witness tag of ours) creates a device on the reservation. */
function takeReservationFor(state: ProviderState, renderer: Renderer, reservationId: string): Device {
  const reservation = state.reservation(reservationId);
  if (!reservation) throw new RangeError(`Cannot take reservation "${reservationId}": there is no such reservation`);
  if (!state.provisionable(reservation)) {
    throw new RangeError(`Cannot take reservation "${reservationId}": it is not provisionable`);
  }
  const device = state.createDevice({
    hardwareReservationId: reservation.id,
    plan: reservation.plan,
    metro: reservation.metro,
    operatingSystem: SOMEONE_ELSES_OS,
    hostname: `someone-else-${reservation.id.slice(0, 8)}`,
    tags: ["someone-else"],
  });
  return renderer.device(device);
}

function checkOptions(
  { token, projectId, timing, metros }: {
    token: string;
    projectId: string | undefined;
    timing: SimulatorTiming;
    metros: readonly string[];
  },
): void {
  const fail = (what: string, value: unknown) => {
    throw new RangeError(`Cannot start the simulator: ${what}: current value is ${JSON.stringify(value)}`);
  };
  if (token === "") fail("token must not be empty", token);
  // As the client's schemas (equinix/schemas.ts) parse a project's id.
  if (projectId !== undefined && !isUuid(projectId)) fail("projectId must be a UUID", projectId);
  if (metros.length === 0 || metros.some((m) => !/^[a-z0-9]+$/.test(m))) {
    fail("metros must be one or more lower-case metro codes", metros);
  }
  for (const [name, ms] of Object.entries(timing)) {
    if (!Number.isFinite(ms) || ms < 0) fail(`timing.${name} must be >= 0`, ms);
  }
}

/** 32 hex digits. */
function randomToken(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
