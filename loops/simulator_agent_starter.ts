/**
 * Starts agents through a standalone Metal API simulator (`deno task sim`):
 * it runs Drover's agent in its own process on the device's simulated
 * machine (`POST /_sim/devices/{id}/agent`) and answers with the takeover
 * reply. This is how replicas that share one simulator get agents
 * (DROVER_SIM_AGENTS); in-process, SimulatedAgentStarter does the same
 * without HTTP.
 *
 * @module
 */
import type { MachineProvided } from "../bmdb/mod.ts";
import { AGENT_PROTOCOL, fromBase64, type TakeoverInit } from "../agent/mod.ts";
import type { AgentStarter, StartedAgent } from "./agent_starter.ts";

export interface SimulatorAgentStarterOptions {
  /** The simulator's API base URL (EQUINIX_API_URL); its admin endpoint is at the same origin. */
  apiUrl: string;
  /** The simulator's token (EQUINIX_API_TOKEN). */
  token: string;
  /** @default 30000 */
  timeoutMs?: number;
}

export class SimulatorAgentStarter implements AgentStarter {
  readonly kind = "simulator";
  readonly #origin: string;
  readonly #token: string;
  readonly #timeoutMs: number;

  constructor(options: SimulatorAgentStarterOptions) {
    const url = URL.parse(options.apiUrl);
    if (!url) throw new TypeError(`SimulatorAgentStarter: apiUrl must be a URL: current value is ${options.apiUrl}`);
    this.#origin = url.origin;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async start(machine: MachineProvided, init: TakeoverInit, signal: AbortSignal): Promise<StartedAgent> {
    const where = `${this.#origin}/_sim/devices/${machine.providerId}/agent`;
    const response = await fetch(where, {
      method: "POST",
      headers: { "X-Auth-Token": this.#token, "Content-Type": "application/json" },
      body: JSON.stringify(init),
      signal: AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)]),
    });
    const text = await response.text();
    if (!response.ok) {
      let errors = text.slice(0, 300);
      try {
        errors = (JSON.parse(text).errors as string[]).join("; ");
      } catch {
        // not the simulator's error body: quote the text
      }
      throw new Error(
        `simulator refused to start the agent on device ${machine.providerId} (HTTP ${response.status}): ${errors}`,
      );
    }
    const reply = JSON.parse(text) as { protocol?: unknown; agentPublicKey?: unknown };
    const key = typeof reply.agentPublicKey === "string" ? fromBase64(reply.agentPublicKey) : undefined;
    if (reply.protocol !== AGENT_PROTOCOL || key?.length !== 32) {
      throw new Error(
        `simulator's takeover reply for device ${machine.providerId} is not an agent's: ${text.slice(0, 200)}`,
      );
    }
    return { agentPublicKey: key };
  }
}
