/**
 * A reply's JSON body checked against a zod schema, or a
 * {@linkcode MalformedReplyError} that says what was wrong.
 *
 * @module
 */
import type { z } from "zod";
import type { HttpReply } from "./bmc_http.ts";
import { MalformedReplyError } from "./errors.ts";

/** What was asked for, to name it in the error. */
export interface RequestShown {
  origin: string;
  method: string;
  path: string;
}

/**
 * The reply's body as `schema` reads it.
 * @throws {MalformedReplyError} when the body is not JSON or does not fit (the first three issues named).
 */
export function parseReplyJson<T>(reply: HttpReply, shown: RequestShown, schema: z.ZodType<T>): T {
  const url = `${shown.origin}${shown.path}`;
  let json: unknown;
  try {
    json = JSON.parse(reply.text);
  } catch (cause) {
    throw new MalformedReplyError(shown.origin, reply.status, shown.method, url, "the body is not JSON", { cause });
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 3).map((issue) => {
    const where = issue.path.length === 0 ? "(root)" : issue.path.map(String).join(".");
    return `${where}: ${issue.message}`;
  });
  throw new MalformedReplyError(shown.origin, reply.status, shown.method, url, issues.join("; "), {
    cause: parsed.error,
  });
}
