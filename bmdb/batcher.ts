/**
 * Lets concurrent requests of one kind share a statement.
 *
 * A request goes out at once while fewer than `maxInFlight` batches of its
 * key are in flight; otherwise it queues, and the queue goes together as one
 * batch when a slot frees. An idle system therefore runs each request at
 * once, with no added latency; under load, one statement (one round trip, one
 * commit) serves many workers. For claims and for commits, one batch in
 * flight per key measured best (two: 11% fewer units/s at 4 and at 16
 * workers; batching at all: +54% at 16 workers, even at 4); a finish-and-claim
 * is a whole unit and goes best unbatched (bmdb/commit_and_claim.ts).
 *
 * @module
 */

interface Pending<Req, Res> {
  request: Req;
  resolve(result: Res): void;
  reject(error: unknown): void;
}

/** Runs a batch: one result per request, in order (or throws for all). */
export type BatchRunner<Req, Res> = (requests: Req[]) => Promise<Res[]>;

/** Groups concurrent requests by key and runs each group with `run`. */
export class Batcher<Req, Res> {
  readonly #run: BatchRunner<Req, Res>;
  readonly #maxBatch: number;
  readonly #maxInFlight: number;
  readonly #queues = new Map<string, Pending<Req, Res>[]>();
  readonly #inFlight = new Map<string, number>();
  /** Statements sent and requests served, for metrics and the benchmark. */
  readonly stats = { batches: 0, requests: 0 };

  constructor(
    run: BatchRunner<Req, Res>,
    { maxBatch = 64, maxInFlight = 1 }: { maxBatch?: number; maxInFlight?: number } = {},
  ) {
    this.#run = run;
    this.#maxBatch = maxBatch;
    this.#maxInFlight = maxInFlight;
  }

  /** Whether a request under `key` would wait: as many batches of it in flight as allowed. */
  busy(key: string): boolean {
    return (this.#inFlight.get(key) ?? 0) >= this.#maxInFlight;
  }

  /** Queues `request` under `key`; resolves with its own result. */
  submit(key: string, request: Req): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      let queue = this.#queues.get(key);
      if (!queue) this.#queues.set(key, queue = []);
      queue.push({ request, resolve, reject });
      if ((this.#inFlight.get(key) ?? 0) < this.#maxInFlight) this.#flush(key);
    });
  }

  #flush(key: string): void {
    const queue = this.#queues.get(key);
    if (!queue || queue.length === 0) {
      this.#queues.delete(key);
      return;
    }
    const batch = queue.splice(0, this.#maxBatch);
    this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + 1);
    this.stats.batches++;
    this.stats.requests += batch.length;
    this.#run(batch.map((p) => p.request)).then(
      (results) => batch.forEach((p, i) => p.resolve(results[i])),
      (error) => batch.forEach((p) => p.reject(error)),
    ).finally(() => {
      const left = (this.#inFlight.get(key) ?? 1) - 1;
      if (left === 0) this.#inFlight.delete(key);
      else this.#inFlight.set(key, left);
      this.#flush(key);
    });
  }
}
