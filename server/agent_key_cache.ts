/**
 * Agents' public keys, imported once and kept: they change only when a
 * machine is recovered and its agent started again, and a signature that
 * fails with a kept key is checked once more with a fresh one, so a stale
 * entry costs one read, never a wrong answer.
 *
 * @module
 */
import { ApiError } from "./api_error.ts";

/** A machine's agent key: the raw bytes (as recorded) and the imported key. */
export interface AgentKey {
  raw: Uint8Array;
  key: CryptoKey;
}

/** Reads a machine's key, or the refusal when there is none. */
export type AgentKeyLoader = (machineId: string) => Promise<AgentKey | ApiError>;

export class AgentKeyCache {
  // A Map iterates in insertion order: the first entry is the oldest.
  readonly #keys = new Map<string, AgentKey>();
  readonly #maxSize: number;
  readonly #load: AgentKeyLoader;

  constructor(maxSize: number, load: AgentKeyLoader) {
    this.#maxSize = maxSize;
    this.#load = load;
  }

  /**
   * The key `check` accepts, or undefined when the machine's current key
   * does not; throws the loader's refusal (unknown machine, no agent).
   */
  async verify(machineId: string, check: (key: CryptoKey) => Promise<boolean>): Promise<AgentKey | undefined> {
    const kept = this.#keys.get(machineId);
    if (kept && await check(kept.key)) return kept;
    const fresh = await this.#load(machineId);
    if (fresh instanceof ApiError) {
      this.#keys.delete(machineId);
      throw fresh;
    }
    this.#keys.delete(machineId);
    this.#keys.set(machineId, fresh);
    if (this.#keys.size > this.#maxSize) this.#keys.delete(this.#keys.keys().next().value!);
    if (kept && bytesEqual(kept.raw, fresh.raw)) return undefined; // same key: the signature is wrong
    return await check(fresh.key) ? fresh : undefined;
  }

  forget(machineId: string): void {
    this.#keys.delete(machineId);
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
