/**
 * The recoverer (process ShepherdRecovery): a machine whose agent never sent
 * a heartbeat within `startTimeoutSeconds` of its start, or whose last one
 * is older than `heartbeatTimeoutSeconds`, is rebooted through the provider;
 * once the device is active again, `machine_agent_started` and the old
 * heartbeat are cleared, so the initializer starts a fresh agent on it.
 *
 * The reboot is watched by polling the device's state (every
 * `pollIntervalMs`), not by sleeping a fixed time: done when the device is
 * active again after leaving active, or when it stayed active for
 * `quietRebootMs` (a provider may reboot without showing a state change).
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  type Backoff,
  type MachineProvided,
  Process,
  Provider,
  type Queries,
  type RecoveryTimeouts,
} from "../bmdb/mod.ts";
import { type DeviceState, type EquinixClient, MetalApiError } from "../equinix/mod.ts";
import type { Commit, ControlLoop } from "./runner.ts";

export interface RecovererOptions {
  client: EquinixClient;
  /** When an agent counts as gone (defaults: 1800 s to the first heartbeat, 600 s after the last). */
  timeouts?: RecoveryTimeouts;
  /** @default { initialSeconds: 60, maximumSeconds: 3600, exponent: 2 } */
  backoff?: Backoff;
  /** Between two reads of the device's state during a reboot. @default 5000 */
  pollIntervalMs?: number;
  /** A reboot that has not brought the device back within this fails. @default 900000 (15 min) */
  rebootTimeoutMs?: number;
  /** A device still active this long after the reboot request counts as rebooted. @default 60000 */
  quietRebootMs?: number;
}

/** States a device passes through while it reboots. */
const REBOOTING: ReadonlySet<DeviceState> = new Set(["powering_off", "powering_on"]);

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`Recoverer: ${name} must be >= 0 ms: current value is ${v}`);
  return v;
}

export class Recoverer implements ControlLoop<MachineProvided> {
  readonly name = "recoverer";
  readonly process = Process.ShepherdRecovery;
  readonly backoff: Backoff;
  readonly #client: EquinixClient;
  readonly #timeouts: RecoveryTimeouts;
  readonly #pollIntervalMs: number;
  readonly #rebootTimeoutMs: number;
  readonly #quietRebootMs: number;

  constructor(options: RecovererOptions) {
    this.#client = options.client;
    this.#timeouts = options.timeouts ?? {};
    this.backoff = options.backoff ?? { initialSeconds: 60, maximumSeconds: 3600, exponent: 2 };
    this.#pollIntervalMs = positiveMs("pollIntervalMs", options.pollIntervalMs, 5000);
    this.#rebootTimeoutMs = positiveMs("rebootTimeoutMs", options.rebootTimeoutMs, 15 * 60_000);
    this.#quietRebootMs = positiveMs("quietRebootMs", options.quietRebootMs, 60_000);
  }

  retrieve(q: Queries) {
    return q.getMachineForAgentRecovery({ provider: Provider.Equinix, limit: 1, ...this.#timeouts });
  }

  async processMachine(machine: MachineProvided, signal: AbortSignal): Promise<Commit> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(this.#rebootTimeoutMs)]);
    try {
      await this.#reboot(machine.providerId, deadline);
    } catch (error) {
      if (!signal.aborted && deadline.aborted) {
        throw new Error(
          `device ${machine.providerId} did not come back from its reboot within ${this.#rebootTimeoutMs} ms`,
        );
      }
      throw error;
    }
    const { machineId } = machine;
    return (q) => [q.machineDeleteAgentStarted({ machineId }), q.machineDeleteAgentHeartbeat({ machineId })];
  }

  async #reboot(deviceId: string, signal: AbortSignal): Promise<void> {
    const requestedAt = performance.now();
    try {
      await this.#client.rebootDevice(deviceId, { signal });
    } catch (error) {
      // A reboot whose reply was lost and that was sent again meets the
      // device already rebooting: that is our reboot under way.
      if (!(error instanceof MetalApiError && error.status === 422)) throw error;
      const { state } = await this.#client.getDevice(deviceId, { signal });
      if (!REBOOTING.has(state)) throw error;
    }
    let leftActive = false;
    for (;;) {
      const { state } = await this.#client.getDevice(deviceId, { signal });
      if (state === "active") {
        if (leftActive || performance.now() - requestedAt >= this.#quietRebootMs) return;
      } else if (REBOOTING.has(state)) {
        leftActive = true;
      } else {
        throw new Error(`device ${deviceId} is ${state} after its reboot, not active`);
      }
      await sleep(this.#pollIntervalMs, undefined, { signal });
    }
  }
}
