/**
 * The initializer (process ShepherdAgentStart): starts the Drover agent on
 * machines that have none and records its public key in
 * `machine_agent_started`, which is what the agent API checks signatures
 * against. Which machines: `getMachinesForAgentStart` (running at the
 * provider with an address, no agent started, no shepherd work, no backoff).
 *
 * @module
 */
import { type Backoff, type MachineProvided, Process, Provider, type Queries } from "../bmdb/mod.ts";

import type { AgentStarter } from "./agent_starter.ts";
import type { Commit, ControlLoop } from "./runner.ts";

export interface InitializerOptions {
  starter: AgentStarter;
  /** Whose machines it starts agents on. @default Provider.Equinix */
  provider?: Provider;
  /** The loop's name in logs and metrics. @default "initializer" */
  name?: string;
  /** The Drover server's base URL as machines reach it (the agent API is under it). */
  agentUrl: string;
  /** Seconds between the agent's heartbeats. @default 5 */
  heartbeatIntervalSeconds?: number;
  /** @default { initialSeconds: 30, maximumSeconds: 600, exponent: 2 } */
  backoff?: Backoff;
}

export class Initializer implements ControlLoop<MachineProvided> {
  readonly name: string;
  readonly process = Process.ShepherdAgentStart;
  readonly backoff: Backoff;
  readonly #starter: AgentStarter;
  readonly #provider: Provider;
  readonly #agentUrl: string;
  readonly #heartbeatIntervalSeconds: number;

  constructor(options: InitializerOptions) {
    const url = URL.parse(options.agentUrl);
    if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new TypeError(`Initializer: agentUrl must be an http(s) URL: current value is ${options.agentUrl}`);
    }
    const interval = options.heartbeatIntervalSeconds ?? 5;
    if (!Number.isInteger(interval) || interval < 1 || interval > 3600) {
      throw new RangeError(
        `Initializer: heartbeatIntervalSeconds must be an integer in 1..3600: current value is ${interval}`,
      );
    }
    this.#starter = options.starter;
    this.#provider = options.provider ?? Provider.Equinix;
    this.name = options.name ?? "initializer";
    this.#agentUrl = options.agentUrl.replace(/\/+$/, "");
    this.#heartbeatIntervalSeconds = interval;
    this.backoff = options.backoff ?? { initialSeconds: 30, maximumSeconds: 600, exponent: 2 };
  }

  retrieve(q: Queries) {
    return q.getMachinesForAgentStart({ provider: this.#provider, limit: 1 });
  }

  async processMachine(machine: MachineProvided, signal: AbortSignal): Promise<Commit> {
    const started = await this.#starter.start(machine, {
      machineId: machine.machineId,
      agentUrl: this.#agentUrl,
      heartbeatIntervalSeconds: this.#heartbeatIntervalSeconds,
    }, signal);
    const agentStartedAt = new Date();
    const { machineId } = machine;
    const { sshHostKey } = started;
    // A heartbeat left from an earlier agent would count for this one.
    return (q) => [
      q.machineSetAgentStarted({ machineId, agentStartedAt, agentPublicKey: started.agentPublicKey }),
      q.machineDeleteAgentHeartbeat({ machineId }),
      // Trust on first use: the key this first connection met is the machine's from now on.
      ...(sshHostKey ? [q.machineSetSshHostKey({ machineId, sshHostKey })] : []),
    ];
  }
}
