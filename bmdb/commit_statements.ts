/**
 * Running the statements that carry commits (alone, or batched with the next
 * claims): at SERIALIZABLE, again after serialization failures, and one by
 * one when two commits of a batch write the same row.
 *
 * @module
 */
import type { Driver, Row } from "./driver.ts";
import { DatabaseError } from "./errors.ts";
import { render, type Sql } from "./sql.ts";
import { retrying } from "./transaction.ts";

const NEVER = new AbortController().signal;

/** PostgreSQL's "ON CONFLICT DO UPDATE command cannot affect row a second time": two commits wrote one row. */
const SAME_ROW_TWICE = "21000";

/** Runs a statement carrying `requests` commits; `onRetry` learns of each serialization failure. */
export type StatementRunner = (statement: Sql, requests: number) => Promise<Row[]>;

/** A {@linkcode StatementRunner} on `driver`'s serializable pool. */
export function serializableRunner(
  driver: Driver,
  onRetry: (error: DatabaseError, requests: number) => void,
): StatementRunner {
  return async (statement, requests) => {
    const { text, params } = render(statement);
    return await retrying(() => driver.query(text, params, "serializable"), {
      signal: NEVER,
      onRetry: (error) => onRetry(error, requests),
    });
  };
}

/**
 * One row per request: a lone request runs `single`; several run `batch`
 * (whose rows carry `__req`, 1-based), or each `single` on its own when
 * their tag writes met on one row.
 */
export async function runCommits<Req>(
  run: StatementRunner,
  requests: Req[],
  single: (request: Req) => Sql,
  batch: (requests: Req[]) => Sql,
): Promise<Row[]> {
  if (requests.length === 1) return await run(single(requests[0]), 1);
  try {
    const rows = await run(batch(requests), requests.length);
    const byRequest = new Map(rows.map((r) => [Number(r.__req), r]));
    return requests.map((_, i) => byRequest.get(i + 1) ?? {});
  } catch (error) {
    if (!(error instanceof DatabaseError && error.code === SAME_ROW_TWICE)) throw error;
    return await Promise.all(requests.map(async (r) => (await run(single(r), 1))[0]));
  }
}
