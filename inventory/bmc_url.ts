/**
 * A BMC's address: the origin (scheme, host, optional port) that Redfish's
 * `/redfish/v1` hangs under.
 *
 * @module
 */
import { currentValue } from "./problem.ts";

const USAGE = "must be the BMC's origin, e.g. https://10.21.4.17 (Redfish's /redfish/v1 is added)";

/**
 * Checks a BMC URL and returns its normalised origin (lower-case host, no
 * default port, no trailing slash): `https://BMC.example:443/` →
 * `https://bmc.example`.
 * @throws {RangeError} whose message is the problem. A URL that holds a user
 *   name or password is never quoted.
 */
export function normaliseBmcUrl(text: string): string {
  const url = URL.parse(text.trim());
  if (url === null) throw new RangeError(`${USAGE}${currentValue(text)}`);
  if (url.username !== "" || url.password !== "") {
    throw new RangeError("must not hold a user name or password: name an entry of the credentials file instead");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RangeError(`${USAGE}: scheme must be https or http${currentValue(text)}`);
  }
  if (url.hostname === "") throw new RangeError(`${USAGE}: host is missing${currentValue(text)}`);
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || /[?#]/.test(text)) {
    throw new RangeError(`${USAGE}: no path, query or fragment${currentValue(text)}`);
  }
  return url.origin;
}
