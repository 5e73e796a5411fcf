/**
 * The agent run in this process on a simulated machine: the real agent (keys,
 * signed requests), started on whatever `host` runs programs while its
 * machine is up, and stopped when the machine goes down or on `stop()`.
 * Drover's simulated starter and the standalone simulator both use it.
 *
 * @module
 */
import { Agent, type AgentExit, type AgentOptions } from "./agent.ts";
import type { TakeoverInit } from "./protocol.ts";

/** Runs programs while its machine is up, aborting their signal when it goes down. */
export interface AgentHost {
  run<T>(program: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

export interface InProcessAgent {
  readonly agent: Agent;
  /** Why it ended: as `Agent.run`, or "machine down" when the host refused to run it. */
  readonly exited: Promise<AgentExit | "machine down">;
  /** Stops it and waits until it has. */
  stop(): Promise<void>;
}

/** Makes the agent (its keys) and starts it on `host`; resolves once it runs. */
export async function startInProcessAgent(
  host: AgentHost,
  init: TakeoverInit,
  options: AgentOptions,
): Promise<InProcessAgent> {
  const agent = await Agent.create(init, options);
  const stopper = new AbortController();
  const exited = host.run((power) => agent.run(AbortSignal.any([power, stopper.signal]))).then(
    (exit) => exit,
    () => "machine down" as const,
  );
  return {
    agent,
    exited,
    async stop() {
      stopper.abort(new Error("agent stopped"));
      await exited;
    },
  };
}

/**
 * In-process agents by key (a machine), one per key: a new start replaces
 * the running one, as a new upload would on a machine that kept running.
 */
export class InProcessAgents {
  readonly #agents = new Map<string, InProcessAgent>();

  /** Starts an agent for `key` on `host`; `onExit` learns why it ended. */
  async start(
    key: string,
    host: AgentHost,
    init: TakeoverInit,
    options: AgentOptions,
    onExit?: (exit: AgentExit | "machine down") => void,
  ): Promise<InProcessAgent> {
    const running = await startInProcessAgent(host, init, options);
    const previous = this.#agents.get(key);
    this.#agents.set(key, running);
    previous?.stop();
    running.exited.then((exit) => {
      if (this.#agents.get(key) === running) this.#agents.delete(key);
      onExit?.(exit);
    });
    return running;
  }

  /** Keys with an agent running. */
  get keys(): string[] {
    return [...this.#agents.keys()];
  }

  /** Stops the agent of `key`; false when none runs. */
  async stop(key: string): Promise<boolean> {
    const running = this.#agents.get(key);
    if (!running) return false;
    await running.stop();
    return true;
  }

  /** Stops every agent and waits until they have. */
  async close(): Promise<void> {
    await Promise.all(this.keys.map((key) => this.stop(key)));
  }
}
