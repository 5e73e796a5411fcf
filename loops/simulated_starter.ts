/**
 * The simulated starter: starts the Drover agent in-process on a simulator
 * machine (the embedded mode's default, and the tests'). The agent is the
 * real one (same keys, same signed requests to the agent API); only its
 * hardware report is made up. It runs while the machine is powered: a reboot
 * or power-off through the provider stops it, as on real hardware.
 *
 * @module
 */
import type { Logger, MachineProvided } from "../bmdb/mod.ts";
import { type AgentHost, InProcessAgents, simulatedHardwareReport, type TakeoverInit } from "../agent/mod.ts";
import type { AgentStarter, StartedAgent } from "./agent_starter.ts";

/** Simulated machines by provider id: the Metal simulator's fleet, or the Redfish simulator's systems. */
export interface SimulatedHosts {
  machine(providerId: string): (AgentHost & { readonly running: boolean }) | undefined;
}

export interface SimulatedAgentStarterOptions {
  /** The simulated machines (in-process). */
  fleet: SimulatedHosts;
  logger: Logger;
  /** How agents reach the server. @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
  /** Passed to each agent: see AgentOptions. */
  acceptGraceMs?: number;
  retryMs?: number;
}

export class SimulatedAgentStarter implements AgentStarter {
  readonly kind = "simulated";
  readonly #options: SimulatedAgentStarterOptions;
  /** By machine id: the agent last started there, while it runs. */
  readonly #agents = new InProcessAgents();

  constructor(options: SimulatedAgentStarterOptions) {
    this.#options = options;
  }

  async start(machine: MachineProvided, init: TakeoverInit, signal: AbortSignal): Promise<StartedAgent> {
    signal.throwIfAborted();
    const simulated = this.#options.fleet.machine(machine.providerId);
    if (simulated === undefined) throw new Error(`the simulator has no machine ${machine.providerId}`);
    if (!simulated.running) throw new Error(`simulated machine ${machine.providerId} is not running`);
    const { logger } = this.#options;
    const fields = { machineId: machine.machineId, providerId: machine.providerId };
    const running = await this.#agents.start(machine.machineId, simulated, init, {
      hardware: () => Promise.resolve(simulatedHardwareReport(machine.machineId)),
      fetch: this.#options.fetch,
      acceptGraceMs: this.#options.acceptGraceMs,
      retryMs: this.#options.retryMs,
      log: (line) => logger.debug(`simulated agent: ${line}`, fields),
    }, (exit) => logger.info("simulated agent exited", { ...fields, exit }));
    return { agentPublicKey: running.agent.publicKey };
  }

  /** Machines with an agent running. */
  get running(): string[] {
    return this.#agents.keys;
  }

  /** Stops the agent on a machine (a fault to inject: the machine stays up, its agent is gone). */
  stopAgent(machineId: string): Promise<boolean> {
    return this.#agents.stop(machineId);
  }

  /** Stops every agent and waits until they have. */
  close(): Promise<void> {
    return this.#agents.close();
  }
}
