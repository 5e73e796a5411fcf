/**
 * The per-key backlog of one etcd watcher: what it has delivered, and what
 * changed since, compacted to the newest value per key.
 *
 * @module
 */

/** One key's state: `value` null means the key does not exist (deleted). */
export interface KeyUpdate {
  key: Uint8Array;
  value: Uint8Array | null;
}

/**
 * Holds at most one pending update per key, so a slow consumer costs memory
 * in the number of keys, never in the number of updates. Pending keys come
 * out oldest change first; a key that changes again moves to the end.
 */
export class KeyBacklog {
  /** The last value delivered per key; absent: never delivered, or delivered as deleted. */
  readonly #delivered = new Map<string, KeyUpdate>();
  /** Changes not delivered yet, in delivery order (a Map keeps insertion order). */
  readonly #pending = new Map<string, KeyUpdate>();

  /** How many keys have a change waiting. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Records that `key` now holds `value` (null: deleted). Dropped when it
   * equals the current value (pending, else delivered); a change back to the
   * delivered value removes the pending one, as the consumer already has it.
   */
  apply(key: Uint8Array, value: Uint8Array | null): void {
    const id = keyId(key);
    const delivered = this.#delivered.get(id)?.value ?? null;
    const pending = this.#pending.get(id);
    if (bytesEqual(pending ? pending.value : delivered, value)) return;
    this.#pending.delete(id);
    if (bytesEqual(delivered, value)) return;
    // Copies: etcd3's buffers may be views into a whole response, which we would otherwise keep alive.
    this.#pending.set(id, { key: key.slice(), value: value?.slice() ?? null });
  }

  /**
   * Takes the state of the whole range from a fresh read (`kvs` holds every
   * key that exists; the others were deleted) and records what differs from
   * what this backlog knows, in key order.
   */
  reconcile(kvs: readonly KeyUpdate[]): void {
    const read = new Map<string, KeyUpdate>();
    for (const kv of kvs) read.set(keyId(kv.key), kv);
    for (const [id, known] of [...this.#delivered, ...this.#pending]) {
      if (!read.has(id)) read.set(id, { key: known.key, value: null });
    }
    // keyId keeps byte order, so sorting the ids sorts the keys as etcd does.
    for (const id of [...read.keys()].sort()) {
      const { key, value } = read.get(id) as KeyUpdate;
      this.apply(key, value);
    }
  }

  /** Removes and returns the oldest pending change, which then counts as delivered. */
  take(): KeyUpdate | undefined {
    const next = this.#pending.entries().next();
    if (next.done) return undefined;
    const [id, update] = next.value;
    this.#pending.delete(id);
    if (update.value === null) this.#delivered.delete(id);
    else this.#delivered.set(id, update);
    return update;
  }
}

/** A string that stands for the key's bytes one to one (one char per byte), ordered as the bytes are. */
function keyId(key: Uint8Array): string {
  let id = "";
  for (const byte of key) id += String.fromCharCode(byte);
  return id;
}

function bytesEqual(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
