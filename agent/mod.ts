/**
 * The Drover agent: runs on each machine, proves who it is with an ed25519
 * key pair made at takeover, heartbeats to the Drover server and sends a
 * hardware report once. `main.ts` is the program (bundled to one file by
 * `deno task build:agent` so the initializer can upload it); this module is
 * what Drover itself uses: the wire protocol (shared with the server's agent
 * API) and the in-process agent the simulated starter runs.
 *
 * ```ts
 * const agent = await Agent.create(init, { hardware: async () => simulatedHardwareReport(init.machineId) });
 * const reply = agent.takeoverReply(); // { protocol, agentPublicKey }: what the initializer records
 * const exit = await agent.run(signal); // "stopped" | "superseded" | "never accepted"
 * ```
 *
 * @module
 */
export { Agent, type AgentExit, type AgentOptions, type AgentState, validateTakeoverInit } from "./agent.ts";
export { type AgentHost, type InProcessAgent, InProcessAgents, startInProcessAgent } from "./in_process.ts";
export { type CollectHardwareOptions, collectHardwareReport, simulatedHardwareReport } from "./hardware.ts";
export {
  AGENT_API_PREFIX,
  AGENT_PROTOCOL,
  AgentEndpoint,
  exportPublicKey,
  fromBase64,
  generateAgentKeys,
  type HardwareReport,
  type HardwareReportRequest,
  type HeartbeatRequest,
  importPublicKey,
  SIGNATURE_HEADER,
  signingInput,
  signRequest,
  type TakeoverInit,
  type TakeoverReply,
  toBase64,
  verifyRequest,
  verifyWithKey,
} from "./protocol.ts";
