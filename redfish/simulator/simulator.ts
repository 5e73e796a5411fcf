/**
 * Starting and closing one simulated BMC: resolves the options, builds its
 * state, and serves the shared Redfish app on its own port.
 *
 * @module
 */
import { redfishApp } from "./app.ts";
import { Bmc } from "./bmc.ts";
import { type BmcSimulatorOptions, resolveBmcOptions } from "./config.ts";
import { BmcSimulatorClosedError } from "./errors.ts";
import type { BmcFaults } from "./faults.ts";
import { HttpListener } from "./http_listener.ts";
import { type BmcStats, RequestCounter } from "./stats.ts";
import type { SimulatedSystem } from "./system.ts";

/** A running BMC simulator. Close it with `close()` or `await using`. */
export interface BmcSimulator extends AsyncDisposable {
  /** The origin, e.g. "http://127.0.0.1:41234" ("https://…" with `tls`). */
  readonly url: string;
  /** The user name HTTP Basic and session logins take. */
  readonly username: string;
  /** Its password. */
  readonly password: string;
  /** Faults, mutable at run time: `sim.faults.errorRate = 0.5`. */
  readonly faults: BmcFaults;
  /** The BMC's systems, in member order. */
  readonly systems: readonly SimulatedSystem[];
  /**
   * The system with this member Id.
   * @throws {RangeError} when the BMC has none
   */
  system(id: string): SimulatedSystem;
  /** The counters now. */
  stats(): BmcStats;
  /** Stops listening (connections refused) and drops open connections, until {@link resume}. */
  refuseConnections(): Promise<void>;
  /**
   * Listens again, on the same port.
   * @throws the listen error when the port was taken meanwhile
   */
  resume(): Promise<void>;
  /**
   * Stops listening, drops open connections (hanging requests and held
   * replies end without a reply), stops the systems' transitions and aborts
   * their programs. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts a BMC simulator on `options.hostname`:`options.port` (default
 * 127.0.0.1 and a free port).
 * @throws {RangeError} for options out of range
 * @throws the listen error when the port cannot be had
 */
export async function startBmcSimulator(options: BmcSimulatorOptions = {}): Promise<BmcSimulator> {
  const config = resolveBmcOptions(options);
  const bmc = new Bmc(config);
  const faults: BmcFaults = config.latencyMs === undefined ? {} : { latencyMs: config.latencyMs };
  const counter = new RequestCounter();
  const closing = new AbortController();
  const app = redfishApp();
  const listener = await HttpListener.start({
    hostname: config.hostname,
    port: config.port,
    tls: config.tls,
    handler: (request, connection) => app.fetch(request, { bmc, faults, counter, closing: closing.signal, connection }),
  });

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      // Requests waiting (latency, hang) must give up first: the listener's stop waits for every handler.
      closing.abort(new BmcSimulatorClosedError());
      await listener.stop();
      bmc.close();
    })();
    return closed;
  };
  return {
    url: listener.origin,
    username: config.username,
    password: config.password,
    faults,
    systems: bmc.systems,
    system(id: string) {
      const system = bmc.system(id);
      if (!system) {
        throw new RangeError(
          `Cannot find system "${id}": the BMC has ${bmc.systems.map((s) => `"${s.id}"`).join(", ")}`,
        );
      }
      return system;
    },
    stats: () => ({
      requests: counter.requests,
      inFlight: counter.inFlight,
      maxInFlight: counter.maxInFlight,
      sessionsOpen: bmc.sessions?.open ?? 0,
      maxSessionsOpen: bmc.sessions?.maxOpen ?? 0,
      sessionsCreated: bmc.sessions?.created ?? 0,
      byStatus: counter.byStatus(),
    }),
    refuseConnections: () => closed ? Promise.resolve() : listener.stop(),
    resume: () => closed ? Promise.reject(new BmcSimulatorClosedError()) : listener.listen(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
