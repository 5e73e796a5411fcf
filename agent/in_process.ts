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
