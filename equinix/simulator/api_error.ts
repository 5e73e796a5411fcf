/**
 * An API request the simulator refuses: the status and the messages of the
 * API's error body (components/schemas/Error, `{"errors": [...]}`).
 *
 * @module
 */

/** Thrown by the simulator's state and request checks; the server answers with it. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly errors: readonly string[]) {
    super(`${status}: ${errors.join("; ")}`);
    this.name = "ApiError";
  }

  /** The reply body, as the real API sends it. */
  body(): { errors: string[] } {
    return { errors: [...this.errors] };
  }
}

/** 404 with the API's message for an object that does not exist (or is not ours to see). */
export function notFound(): ApiError {
  return new ApiError(404, ["Not found"]);
}

/** 422 with one or more "<field>: <what was wrong>" messages. */
export function unprocessable(...errors: string[]): ApiError {
  return new ApiError(422, errors);
}
