/**
 * The recoverer (process ShepherdRecovery): a machine whose agent never sent
 * a heartbeat within `startTimeoutSeconds` of its start, or whose last one
 * is older than `heartbeatTimeoutSeconds`, or that has a BMC and is powered
 * off though no operator held it off, is brought back through its provider
 * (Equinix: a reboot through the Metal API; an inventory: a restart, or a
 * power-on, through its BMC); once it is up again, `machine_agent_started`
 * and the old heartbeat are cleared, so the initializer starts a fresh agent
 * on it. A machine the provider cannot bring back (an inventory machine
 * without a BMC) fails with a cause that says an operator must act.
 *
 * @module
 */
import { type Backoff, type MachineProvided, Process, type Queries, type RecoveryTimeouts } from "../bmdb/mod.ts";
import type { MachineProvider } from "./provider.ts";
import type { Commit, ControlLoop } from "./runner.ts";

export interface RecovererOptions {
  provider: MachineProvider;
  /** When an agent counts as gone (defaults: 1800 s to the first heartbeat, 600 s after the last). */
  timeouts?: RecoveryTimeouts;
  /** @default { initialSeconds: 60, maximumSeconds: 3600, exponent: 2 } */
  backoff?: Backoff;
  /** The loop's name in logs and metrics. @default "recoverer" */
  name?: string;
}

export class Recoverer implements ControlLoop<MachineProvided> {
  readonly name: string;
  readonly process = Process.ShepherdRecovery;
  readonly backoff: Backoff;
  readonly #provider: MachineProvider;
  readonly #timeouts: RecoveryTimeouts;

  constructor(options: RecovererOptions) {
    this.#provider = options.provider;
    this.#timeouts = options.timeouts ?? {};
    this.backoff = options.backoff ?? { initialSeconds: 60, maximumSeconds: 3600, exponent: 2 };
    this.name = options.name ?? "recoverer";
  }

  retrieve(q: Queries) {
    return q.getMachineForAgentRecovery({ provider: this.#provider.provider, limit: 1, ...this.#timeouts });
  }

  async processMachine(machine: MachineProvided, signal: AbortSignal): Promise<Commit> {
    const power = await this.#provider.recover(machine, { signal });
    const { machineId } = machine;
    return (q) => [
      q.machineDeleteAgentStarted({ machineId }),
      q.machineDeleteAgentHeartbeat({ machineId }),
      ...(power
        ? [q.machineSetPower({
          machineId,
          providerStatus: power.status,
          providerPowerState: power.powerState,
          heldOffBy: null,
        })]
        : []),
    ];
  }
}
