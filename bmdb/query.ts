/**
 * Lazy, composable queries: what the functions on `q` return.
 *
 * A {@linkcode Query} is a statement plus a row mapper. Like a postgres.js
 * query it runs when awaited, in the transaction it was created for. It can
 * also be handed back unawaited so the BMDB embeds it into a bigger statement:
 *
 * - a claim embeds a workflow query (`kind: "candidates"`) returned by
 *   `retrieve`, so retrieving and locking a machine is one statement;
 * - a finish embeds tag writes (`kind: "tag"`) returned by its function,
 *   guarded so they apply only if the work was not canceled.
 *
 * @module
 */
import type { Row } from "./driver.ts";
import type { Process } from "./model.ts";
import { empty, raw, type Sql, sql } from "./sql.ts";

/**
 * Conditions a write on an outer statement's outcome. Standalone writes get
 * empty fragments; a composed finish passes `WHERE EXISTS (SELECT 1 FROM ok)`
 * and its `AND ...` form.
 */
export interface Guard {
  /** For `INSERT ... SELECT ... ${where}`: a complete WHERE clause, or nothing. */
  where: Sql;
  /** For `UPDATE/DELETE ... WHERE cond ${and}`: an `AND ...` condition, or nothing. */
  and: Sql;
}

/** The guard of a standalone statement: no condition. */
export const NO_GUARD: Guard = { where: empty, and: empty };

/** A guard on the existence of rows in a CTE named `cte`. */
export function guardOn(cte: string): Guard {
  const exists = raw(`EXISTS (SELECT 1 FROM ${cte})`);
  return { where: sql`WHERE ${exists}`, and: sql`AND ${exists}` };
}

/** What a query is, so the BMDB knows where it may be embedded. */
export type QueryKind =
  /** Reads only. */
  | "read"
  /** Writes; runs on its own. */
  | "write"
  /** Writes a tag; may also be embedded into a finish, where it is guarded. */
  | "tag"
  /** Returns candidate machines (rows with `machine_id`); may be embedded into a claim. */
  | "candidates";

/** The definition of a query, without a connection: what `queries_*.ts` export. */
export interface QuerySpec<T> {
  /** The function name on `q`, for messages. */
  name: string;
  kind: QueryKind;
  /** Builds the statement. Writes place `guard.where` / `guard.and` where the condition belongs. */
  build(guard: Guard): Sql;
  /** Turns result rows into the query's value. */
  map(rows: Row[]): T;
  /**
   * For `candidates`: the first eligible machine with `from <= machine_id`
   * (and `< before`, when given), with `machine_id` and the columns `map`
   * reads. `from` and `before` are UUID expressions: a bound value, or a
   * column when a batched claim walks from each request's own start. A claim
   * embeds this rather than `build()`, which wraps around.
   */
  firstEligible?(from: Sql, before?: Sql): Sql;
  /**
   * For `candidates`: processes whose live work the predicate already
   * excludes, so a claim need not check them again.
   */
  excludesLiveWorkOf?: readonly Process[];
  /**
   * For `candidates`: equal for two specs exactly when their
   * `firstEligible` statements are equal (name and parameters), so claims
   * through them can share a statement.
   */
  identity?: string;
}

/** Runs a query's statement; bound to a transaction or to autocommit. */
export interface QueryRunner {
  run(statement: Sql): Promise<Row[]>;
}

/**
 * A query bound to where it runs. Awaiting it runs it (once; awaiting again
 * gives the same result). Returning it unawaited from `retrieve` or from a
 * `finish` function lets the BMDB compose it into one statement.
 */
export class Query<T> implements PromiseLike<T> {
  #result: Promise<T> | undefined;
  readonly #runner: QueryRunner;
  readonly spec: QuerySpec<T>;

  constructor(runner: QueryRunner, spec: QuerySpec<T>) {
    this.#runner = runner;
    this.spec = spec;
  }

  /** Whether it has been awaited (and so cannot be composed any more). */
  get started(): boolean {
    return this.#result !== undefined;
  }

  /** Marks it as used by composition, so the transaction does not report it as forgotten. */
  markComposed(): void {
    this.#result ??= Promise.resolve(undefined as T);
  }

  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    this.#result ??= this.#runner.run(this.spec.build(NO_GUARD)).then((rows) => this.spec.map(rows));
    return this.#result.then(onfulfilled, onrejected);
  }
}
