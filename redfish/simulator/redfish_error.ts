/**
 * A request the simulator refuses: the status, the Base messages of the
 * Redfish error body (`redfish-error.v1_0_2.json`) and any extra headers
 * (`Retry-After`, `WWW-Authenticate`, `Allow`).
 *
 * @module
 */
import { BASE_REGISTRY, baseMessage, type BaseMessageKey, type RedfishMessage } from "./base_messages.ts";

/** The body of an error reply. */
export interface RedfishErrorBody {
  error: { code: string; message: string; "@Message.ExtendedInfo": RedfishMessage[] };
}

/** Thrown by the request handlers; the app answers with it. */
export class RedfishError extends Error {
  constructor(
    readonly status: number,
    readonly messages: readonly RedfishMessage[],
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`${status}: ${messages.map((m) => `${m.MessageId}: ${m.Message}`).join("; ")}`);
    this.name = "RedfishError";
  }

  /**
   * The body: `code` is GeneralError, as on most BMCs; `message` is the
   * first message's text; the messages say what was wrong.
   */
  body(): RedfishErrorBody {
    return {
      error: {
        code: `${BASE_REGISTRY}.GeneralError`,
        message: this.messages[0]?.Message ?? baseMessage("GeneralError").Message,
        "@Message.ExtendedInfo": [...this.messages],
      },
    };
  }
}

/** A {@link RedfishError} with one Base message. */
export function redfishError(
  status: number,
  key: BaseMessageKey,
  { args = [], headers = {} }: { args?: readonly string[]; headers?: Record<string, string> } = {},
): RedfishError {
  return new RedfishError(status, [baseMessage(key, args)], headers);
}
