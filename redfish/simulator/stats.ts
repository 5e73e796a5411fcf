/**
 * Counters of the requests one BMC received: how many, how many at once,
 * and how they were answered.
 *
 * @module
 */

/** A BMC's counters, as `stats()` returns them. */
export interface BmcStats {
  /** Requests received (every one, whatever became of it). */
  requests: number;
  /** Requests being handled now (waiting out latency, hanging, or held). */
  inFlight: number;
  /** The most requests in flight at once since start. */
  maxInFlight: number;
  /** Sessions open now (expired ones not counted). */
  sessionsOpen: number;
  /** The most sessions open at once since start. */
  maxSessionsOpen: number;
  /** Sessions created since start. */
  sessionsCreated: number;
  /**
   * Replies by status ("200": n, "401": n, …); "lost" counts replies the
   * simulator dropped on purpose (`loseReplies`), "hang" requests it never
   * answered (`hang`), "closed" requests whose connection went first (the
   * client left during the latency, or the simulator closed or refused
   * connections).
   */
  byStatus: Record<string, number>;
}

/** How a request ended, for {@link RequestCounter.left}: a status, or one of the ways without a reply. */
export type RequestEnd = number | "lost" | "hang" | "closed";

/** The request counters of one BMC (sessions are counted by the session store). */
export class RequestCounter {
  #requests = 0;
  #inFlight = 0;
  #maxInFlight = 0;
  readonly #byStatus: Record<string, number> = {};

  get requests(): number {
    return this.#requests;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get maxInFlight(): number {
    return this.#maxInFlight;
  }

  /** A request arrived; call {@link left} once when it is answered or abandoned. */
  arrived(): void {
    this.#requests++;
    this.#maxInFlight = Math.max(this.#maxInFlight, ++this.#inFlight);
  }

  left(end: RequestEnd): void {
    this.#inFlight--;
    const key = String(end);
    this.#byStatus[key] = (this.#byStatus[key] ?? 0) + 1;
  }

  /** A copy of the replies by status. */
  byStatus(): Record<string, number> {
    return { ...this.#byStatus };
  }
}
