/**
 * Fault injection: standing faults (latency, a 5xx rate, a lost-reply rate) and queued ones
 * (the next N replies fail or are rate limited, the next reply of an
 * operation is lost). The server asks {@link Faults.nextReply} before it
 * changes anything and {@link Faults.takeLostReply} after.
 *
 * @module
 */
import type { Device } from "../schemas.ts";
import { isOperationId, OPERATION_IDS } from "./routes.ts";
import type { Exchange, FaultController, FaultSettings } from "./types.ts";

/** A reply a fault puts in place of the real one. */
export interface InjectedReply {
  status: number;
  fault: NonNullable<Exchange["fault"]>;
  /** Sent as the `Retry-After` header (seconds). */
  retryAfterSeconds?: number;
  /** The error body's message. */
  message: string;
}

interface QueuedFault {
  remaining: number;
  operationId: string | undefined;
  reply: InjectedReply;
}

/** The faults of one simulator. */
export class Faults implements FaultController {
  #settings: FaultSettings = { latencyMs: 0, serverErrorRate: 0, lostReplyRate: 0 };
  /** Queued replies, oldest first; a request takes the first one that matches its operation. */
  #queue: QueuedFault[] = [];
  /** Operations whose next reply is lost, one entry per reply. */
  #lostReplies: string[] = [];
  readonly #takeReservation: (reservationId: string) => Device;

  /** `takeReservation` creates "someone else's" device on a reservation (the state does it). */
  constructor(takeReservation: (reservationId: string) => Device, initial: Partial<FaultSettings> = {}) {
    this.#takeReservation = takeReservation;
    this.set(initial);
  }

  /** The standing faults now. */
  get settings(): Readonly<FaultSettings> {
    return { ...this.#settings };
  }

  /** Queued faults, for the admin endpoint's state. */
  pending(): { replies: { remaining: number; operationId?: string; status: number }[]; lostReplies: string[] } {
    return {
      replies: this.#queue.map((q) => ({ remaining: q.remaining, operationId: q.operationId, status: q.reply.status })),
      lostReplies: [...this.#lostReplies],
    };
  }

  set(settings: Partial<FaultSettings>): void {
    const {
      latencyMs = this.#settings.latencyMs,
      serverErrorRate = this.#settings.serverErrorRate,
      lostReplyRate = this.#settings.lostReplyRate,
    } = settings;
    if (!Number.isFinite(latencyMs) || latencyMs < 0) {
      throw new RangeError(`Cannot set faults: latencyMs must be >= 0: current value is ${latencyMs}`);
    }
    if (!(serverErrorRate >= 0 && serverErrorRate <= 1)) {
      throw new RangeError(`Cannot set faults: serverErrorRate must be in 0..1: current value is ${serverErrorRate}`);
    }
    if (!(lostReplyRate >= 0 && lostReplyRate <= 1)) {
      throw new RangeError(`Cannot set faults: lostReplyRate must be in 0..1: current value is ${lostReplyRate}`);
    }
    this.#settings = { latencyMs, serverErrorRate, lostReplyRate };
  }

  failNext(count: number, { status = 503, operationId }: { status?: number; operationId?: string } = {}): void {
    checkCount("failNext", count);
    checkOperation("failNext", operationId);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new RangeError(`Cannot fail the next requests: status must be 400..599: current value is ${status}`);
    }
    const fault = status === 429 ? "rate-limit" : status >= 500 ? "server-error" : "injected-error";
    this.#queue.push({
      remaining: count,
      operationId,
      reply: { status, fault, message: `Simulated failure: status ${status}` },
    });
  }

  rateLimitNext(count: number, retryAfterSeconds: number, { operationId }: { operationId?: string } = {}): void {
    checkCount("rateLimitNext", count);
    checkOperation("rateLimitNext", operationId);
    if (!Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0) {
      throw new RangeError(
        `Cannot rate limit the next requests: retryAfterSeconds must be an integer >= 0: current value is ${retryAfterSeconds}`,
      );
    }
    this.#queue.push({
      remaining: count,
      operationId,
      reply: {
        status: 429,
        fault: "rate-limit",
        retryAfterSeconds,
        message: `Rate limit exceeded: retry after ${retryAfterSeconds} seconds`,
      },
    });
  }

  loseNextReply(operationId: string): void {
    checkOperation("loseNextReply", operationId);
    this.#lostReplies.push(operationId);
  }

  takeReservation(reservationId: string): Device {
    return this.#takeReservation(reservationId);
  }

  clear(): void {
    this.#settings = { latencyMs: 0, serverErrorRate: 0, lostReplyRate: 0 };
    this.#queue = [];
    this.#lostReplies = [];
  }

  /** The reply a fault puts in place of this request's real one (consuming it), or undefined. */
  nextReply(operationId: string): InjectedReply | undefined {
    const queued = this.#queue.find((q) => q.operationId === undefined || q.operationId === operationId);
    if (queued) {
      if (--queued.remaining === 0) this.#queue.splice(this.#queue.indexOf(queued), 1);
      return queued.reply;
    }
    if (Math.random() < this.#settings.serverErrorRate) {
      return { status: 500, fault: "server-error", message: "Simulated server error: status 500" };
    }
    return undefined;
  }

  /** True (once per `loseNextReply`, or at `lostReplyRate`) when this request's reply is to be lost after its change is made. */
  takeLostReply(operationId: string): boolean {
    const index = this.#lostReplies.indexOf(operationId);
    if (index < 0) return Math.random() < this.#settings.lostReplyRate;
    this.#lostReplies.splice(index, 1);
    return true;
  }
}

function checkCount(method: string, count: number): void {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`Cannot ${method}: count must be an integer >= 1: current value is ${count}`);
  }
}

function checkOperation(method: string, operationId: string | undefined): void {
  if (operationId !== undefined && !isOperationId(operationId)) {
    throw new RangeError(
      `Cannot ${method}: operationId must be one the simulator serves (${OPERATION_IDS.join(", ")}): ` +
        `current value is "${operationId}"`,
    );
  }
}
