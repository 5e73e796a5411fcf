/**
 * Counters of the API requests a simulator received (the client's tests
 * check "never two calls in flight" and the spacing of calls with these).
 *
 * @module
 */
import type { SimulatorStats } from "./types.ts";

/** Live request counters. */
export class RequestStats implements SimulatorStats {
  #inFlight = 0;
  #maxInFlight = 0;
  readonly #byOperation: Record<string, number> = {};
  readonly #arrivals: number[] = [];

  /** One per arrival. */
  get requests(): number {
    return this.#arrivals.length;
  }

  get byOperation(): Readonly<Record<string, number>> {
    return this.#byOperation;
  }

  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  get arrivals(): readonly number[] {
    return this.#arrivals;
  }

  /** An API request arrived; call {@link left} when it is answered (or abandoned). */
  arrived(operationId: string): void {
    this.#arrivals.push(performance.now());
    this.#byOperation[operationId] = (this.#byOperation[operationId] ?? 0) + 1;
    this.#maxInFlight = Math.max(this.#maxInFlight, ++this.#inFlight);
  }

  left(): void {
    this.#inFlight--;
  }

  /** A plain copy, for the admin endpoint. */
  toJSON(): SimulatorStats & { inFlight: number } {
    return {
      requests: this.requests,
      byOperation: { ...this.#byOperation },
      maxInFlight: this.#maxInFlight,
      inFlight: this.#inFlight,
      arrivals: [...this.#arrivals],
    };
  }
}
