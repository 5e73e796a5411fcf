/**
 * A refusal the API answers with: an HTTP status and `{ error, field? }`.
 * Handlers throw it (or a BMDB error that maps to one); `answerError` writes
 * the JSON.
 *
 * @module
 */
import type { Context } from "hono";
import { InvalidArgumentError, isDatabaseUnavailable, MachineNotFoundError, WorkNotFoundError } from "../bmdb/mod.ts";

export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 502;

export class ApiError extends Error {
  constructor(readonly status: ApiErrorStatus, message: string, readonly field?: string) {
    super(message);
    this.name = "ApiError";
  }

  /** The JSON body: `{ error }`, with `field` when one input was wrong. */
  toJSON(): { error: string; field?: string } {
    return this.field ? { error: this.message, field: this.field } : { error: this.message };
  }
}

/** The API's answer to `error`, or undefined when it is not a refusal nor an outage (a 500, then). */
export function answerError(error: unknown, c: Context): Response | undefined {
  if (error instanceof ApiError) return c.json(error.toJSON(), error.status);
  if (error instanceof InvalidArgumentError) return c.json({ error: error.message, field: error.field }, 400);
  if (error instanceof MachineNotFoundError || error instanceof WorkNotFoundError) {
    return c.json({ error: error.message }, 404);
  }
  // An outage, a restart or a failover: nothing was done, and the same request may work in a few seconds.
  if (isDatabaseUnavailable(error)) {
    return c.json({ error: "the database does not answer right now; nothing was done: try again shortly" }, 503, {
      "Retry-After": "5",
    });
  }
  return undefined;
}
