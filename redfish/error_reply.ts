/**
 * A BMC's error reply turned into a {@linkcode RedfishError}: the Redfish
 * error body's `error.code`, `error.message` and `@Message.ExtendedInfo`
 * (each `MessageId` and `Message`), else a bit of whatever the body was, and
 * `Retry-After`.
 *
 * @module
 */
import type { HttpReply } from "./bmc_http.ts";
import { RedfishError } from "./errors.ts";
import { parseRetryAfter } from "./retry_after.ts";
import { ErrorBodySchema } from "./schemas.ts";

/** The error for `reply` to `method path`; `summary` prefixes what went wrong (e.g. `authentication failed`). */
export function redfishErrorOf(
  origin: string,
  method: string,
  path: string,
  reply: HttpReply,
  summary?: string,
): RedfishError {
  const { messageIds, messages } = errorMessages(reply.text);
  const retryAfter = reply.headers["retry-after"];
  return new RedfishError(origin, reply.status, method, `${origin}${path}`, messageIds, messages, {
    retryAfterMs: parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter),
    summary,
  });
}

function errorMessages(text: string): { messageIds: string[]; messages: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON (a web server's HTML error page, say): fall through to the text.
  }
  const body = ErrorBodySchema.safeParse(json);
  if (body.success) {
    const { error } = body.data;
    const extended = error["@Message.ExtendedInfo"] ?? [];
    const messageIds = [error.code, ...extended.map((m) => m.MessageId)].filter(isText);
    const messages = [error.message, ...extended.map((m) => m.Message)].filter(isText);
    return { messageIds: [...new Set(messageIds)], messages: [...new Set(messages)] };
  }
  const trimmed = text.trim();
  return {
    messageIds: [],
    messages: trimmed === "" ? [] : [trimmed.length > 200 ? `${trimmed.slice(0, 200)}…` : trimmed],
  };
}

function isText(value: string | null | undefined): value is string {
  return typeof value === "string" && value !== "";
}
