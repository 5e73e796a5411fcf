/**
 * A refusal the API answers with: an HTTP status and `{ error, field? }`.
 * Handlers throw it; whoever catches it writes the JSON.
 *
 * @module
 */
export type ApiErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422;

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
