/**
 * A request body as JSON, checked against a zod schema: the API's one way to
 * refuse a malformed body (400, naming the first field at fault).
 *
 * @module
 */
import type { z } from "zod";
import { ApiError } from "./api_error.ts";

/** Parses `bytes` (UTF-8 JSON) with `schema`. @throws {ApiError} 400 naming what was wrong and where. */
export function parseJsonBody<S extends z.ZodType>(bytes: Uint8Array, schema: S): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new ApiError(400, `body is not JSON: ${(error as Error).message}`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join(".");
    throw new ApiError(400, field ? `${field}: ${issue.message}` : issue.message, field || undefined);
  }
  return parsed.data;
}
