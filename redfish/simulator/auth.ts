/**
 * Who is asking: the `X-Auth-Token` of a live session, or HTTP Basic with
 * the BMC's credentials (accepted in both auth modes, as on real BMCs).
 *
 * @module
 */
import type { Bmc } from "./bmc.ts";
import { redfishError } from "./redfish_error.ts";
import type { Session } from "./sessions.ts";

/** The realm of the `WWW-Authenticate` challenge. */
const REALM = "Redfish BMC simulator";

/** An authenticated request's credentials: its session, or "basic". */
export type Caller = Session | "basic";

/**
 * The caller of a request with these headers to `path`.
 * @throws {RedfishError} 401 with NoValidSession (no credentials, or a token that is not a live session's) or
 *   ResourceAtUriUnauthorized (wrong Basic credentials), and a Basic challenge
 */
export function authenticate(bmc: Bmc, headers: Headers, path: string): Caller {
  const challenge = { "WWW-Authenticate": `Basic realm="${REALM}"` };
  const token = headers.get("X-Auth-Token");
  if (token !== null) {
    const session = bmc.sessions?.use(token);
    if (session) return session;
    throw redfishError(401, "NoValidSession", { headers: challenge });
  }
  const authorization = headers.get("Authorization");
  if (authorization === null) throw redfishError(401, "NoValidSession", { headers: challenge });
  const basic = /^Basic\s+(\S+)$/i.exec(authorization.trim());
  const credentials = basic ? decodeBasic(basic[1]) : undefined;
  if (!credentials || !bmc.checkCredentials(credentials.userName, credentials.password)) {
    throw redfishError(401, "ResourceAtUriUnauthorized", {
      args: [path, "Invalid user name or password"],
      headers: challenge,
    });
  }
  return "basic";
}

/** "user:password" from base64, or undefined when it is not that. */
function decodeBasic(encoded: string): { userName: string; password: string } | undefined {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  return { userName: text.slice(0, colon), password: text.slice(colon + 1) };
}
