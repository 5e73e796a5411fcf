/**
 * How the initializer starts the agent on a machine: over SSH on real
 * hardware, in-process on the simulator's machines.
 *
 * @module
 */
import type { MachineProvided } from "../bmdb/mod.ts";
import type { TakeoverInit } from "../agent/mod.ts";

/** What a started agent answered. */
export interface StartedAgent {
  /** The raw 32-byte ed25519 public key from the agent's takeover reply. */
  agentPublicKey: Uint8Array;
  /**
   * The SSH host key the machine presented ("type base64"), when the
   * starter trusted it on first use: recorded with the agent, so a different
   * key later is refused.
   */
  sshHostKey?: string;
}

/** Starts the Drover agent on one machine. */
export interface AgentStarter {
  /** Names the starter in logs and failure causes, e.g. "ssh". */
  readonly kind: string;
  /**
   * Starts the agent on `machine` with `init` and returns its public key.
   * Rejects with an error that says what failed (dial, upload, run, reply)
   * and where; honours `signal` (an operator's cancel or shutdown) and never
   * hangs past its own timeouts.
   */
  start(machine: MachineProvided, init: TakeoverInit, signal: AbortSignal): Promise<StartedAgent>;
}
