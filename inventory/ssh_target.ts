/**
 * Where Drover logs in to a machine: `user@host[:port]`, as an operator writes
 * it in the inventory.
 *
 * @module
 */
import { currentValue } from "./problem.ts";

/** An SSH login: user, host (an IPv6 address without its brackets) and port. */
export interface SshTarget {
  /** `[A-Za-z0-9._-]+`. */
  user: string;
  /** A DNS name, an IPv4 address, or an IPv6 address without brackets. */
  host: string;
  /** 1 to 65535; 22 unless given. */
  port: number;
}

const USAGE = "must be user@host[:port], e.g. root@10.0.0.5:22";
const DNS_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Parses `user@host[:port]`: the user is `[A-Za-z0-9._-]+`, the host a DNS
 * name, an IPv4 address or an IPv6 address in brackets (`root@[2001:db8::1]:22`),
 * the port 1..65535 (default 22).
 * @throws {RangeError} whose message is the problem (`must be …: current value is "…"`).
 */
export function parseSshTarget(text: string): SshTarget {
  const match = /^([A-Za-z0-9._-]+)@(\[[^\]]*\]|[^@:\[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (match === null) {
    const afterAt = text.slice(text.indexOf("@") + 1);
    const hint = !afterAt.includes("[") && afterAt.split(":").length > 2
      ? " (an IPv6 host goes in brackets: root@[2001:db8::1]:22)"
      : "";
    throw new RangeError(`${USAGE}${hint}${currentValue(text)}`);
  }
  const [, user, hostText, portText] = match;
  const port = portText === undefined ? 22 : Number(portText);
  if (port < 1 || port > 65535) throw new RangeError(`port must be 1 to 65535${currentValue(text)}`);
  if (hostText.startsWith("[")) {
    const host = hostText.slice(1, -1);
    // URL's parser is the IPv6 grammar we have at hand; it rejects what is not an IPv6 address.
    if (!host.includes(":") || URL.parse(`ssh://[${host}]`) === null) {
      throw new RangeError(`host in brackets must be an IPv6 address${currentValue(text)}`);
    }
    return { user, host, port };
  }
  if (!DNS_NAME.test(hostText)) {
    throw new RangeError(`${USAGE}: host must be a DNS name or an IP address${currentValue(text)}`);
  }
  return { user, host: hostText, port };
}
