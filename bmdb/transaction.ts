/**
 * Transactions that begin on first use, and the retry loop around them.
 *
 * A {@linkcode LazyTransaction} sends nothing until its first query runs; then
 * BEGIN, the session liveness check and that query travel in one round trip.
 * When a claim or a commit finds nothing ran yet, it runs its single statement
 * on its own instead (`runAlone`): one round trip, no BEGIN/COMMIT.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Driver, type DriverTransaction, type Isolation, RETRYABLE_SQLSTATES, type Row } from "./driver.ts";
import { DatabaseError } from "./errors.ts";
import type { Query, QueryRunner } from "./query.ts";
import { bindQueries, type Queries } from "./queries.ts";
import { render, type Sql, sql } from "./sql.ts";

/** Options for a {@linkcode LazyTransaction}. */
export interface LazyTransactionOptions {
  isolation: Isolation | "repeatable read";
  readOnly?: boolean;
  /** Check this session is alive as the transaction's first statement. */
  sessionId?: string;
  /** The error to throw when that check finds the session dead. */
  onSessionDead?: () => Error;
}

/** A transaction that begins when its first query runs. One use: commit or roll back. */
export class LazyTransaction implements QueryRunner {
  readonly #driver: Driver;
  readonly #options: LazyTransactionOptions;
  #tx: Promise<DriverTransaction> | undefined;
  #alive: Promise<Row[]> | undefined;
  readonly #created: Query<unknown>[] = [];
  /** `q`, bound to this transaction. */
  readonly q: Queries;

  constructor(driver: Driver, options: LazyTransactionOptions) {
    this.#driver = driver;
    this.#options = options;
    this.q = bindQueries(this, (query) => this.#created.push(query));
  }

  /** Whether a statement has been sent. */
  get started(): boolean {
    return this.#tx !== undefined;
  }

  #begin(): Promise<DriverTransaction> {
    if (!this.#tx) {
      this.#tx = this.#driver.begin({ isolation: this.#options.isolation, readOnly: this.#options.readOnly });
      const { sessionId } = this.#options;
      if (sessionId) {
        const { text, params } = render(
          sql`SELECT 1 AS alive FROM sessions WHERE session_id = ${sessionId}::uuid AND session_deadline > now()`,
        );
        this.#alive = this.#tx.then((tx) => tx.query(text, params));
        this.#alive.catch(() => {}); // surfaced by run()
      }
    }
    return this.#tx;
  }

  /** Runs a statement inside the transaction (beginning it if needed). */
  async run(statement: Sql): Promise<Row[]> {
    const tx = this.#begin();
    const { text, params } = render(statement);
    const rows = (await tx).query(text, params);
    rows.catch(() => {}); // the liveness failure below takes precedence
    if (this.#alive && (await this.#alive).length === 0) {
      throw this.#options.onSessionDead?.() ?? new Error("session expired");
    }
    return await rows;
  }

  /**
   * Runs one self-contained statement as its own transaction, for when nothing
   * ran in this one yet. The statement must check liveness itself.
   */
  runAlone(statement: Sql): Promise<Row[]> {
    if (this.started) throw new Error("runAlone() after the transaction began");
    const { text, params } = render(statement);
    const isolation = this.#options.isolation === "repeatable read" ? "serializable" : this.#options.isolation;
    return this.#driver.query(text, params, isolation);
  }

  /**
   * Commits, if anything ran.
   * @throws {TypeError} when a query was created but neither awaited nor composed: it would silently not run.
   */
  async commit(): Promise<void> {
    const forgotten = this.#created.filter((q) => !q.started);
    if (forgotten.length > 0) {
      await this.rollback();
      throw new TypeError(
        `q.${forgotten[0].spec.name}(...) was called but never awaited, so it would not have run; ` +
          `nothing was committed. Await it, or return it from the function.`,
      );
    }
    if (this.#tx) await (await this.#tx).commit();
  }

  /** Rolls back, if anything ran. Never rejects. */
  async rollback(): Promise<void> {
    if (!this.#tx) return;
    try {
      await (await this.#tx).rollback();
    } catch {
      // begin() itself failed: nothing to roll back.
    }
  }
}

const MAX_ATTEMPTS = 100;

/** Whether an error means "run the transaction again". */
export function isRetryable(error: unknown): boolean {
  return error instanceof DatabaseError && RETRYABLE_SQLSTATES.has(error.code);
}

/**
 * Runs `attempt` until it does not fail with a serialization failure or a
 * deadlock (SQLSTATE 40001, 40P01), waiting a jittered, growing pause between
 * tries. Stops with the signal's reason when `signal` aborts, and gives up
 * after 100 attempts with the last error.
 */
export async function retrying<T>(
  attempt: () => Promise<T>,
  { signal, onRetry }: { signal: AbortSignal; onRetry?: (error: DatabaseError) => void },
): Promise<T> {
  for (let n = 1;; n++) {
    signal.throwIfAborted();
    try {
      return await attempt();
    } catch (error) {
      if (!isRetryable(error) || n >= MAX_ATTEMPTS) throw error;
      onRetry?.(error as DatabaseError);
      // Full jitter: conflicting transactions spread out instead of colliding again.
      const capMs = Math.min(250, 2 ** n);
      await sleep(Math.random() * capMs, undefined, { signal });
    }
  }
}
