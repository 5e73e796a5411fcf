/**
 * A machine's SSH host key as an operator pastes it: one OpenSSH public key
 * line (`ssh-ed25519 AAAAC3Nza… comment`), checked and reduced to `type base64`.
 *
 * @module
 */
import { currentValue } from "./problem.ts";

const USAGE = "must be an OpenSSH public key line (type base64 [comment]), e.g. from ssh-keyscan or /etc/ssh/*.pub";
const KEY_TYPE = /^[a-z][a-z0-9.@-]*$/;

/**
 * Checks an OpenSSH public key line and returns it as `type base64`, the
 * comment dropped. The blob must be base64 and, in SSH wire format (a uint32
 * length, then the type), start with the line's key type.
 * @throws {RangeError} whose message is the problem (`must be …: current value is "…"`).
 */
export function normaliseHostKey(text: string): string {
  const fields = text.trim().split(/\s+/);
  if (fields.length < 2 || !KEY_TYPE.test(fields[0])) {
    // `10.0.0.5 ssh-ed25519 AAAA…` is a known_hosts line: say so rather than only "wrong".
    const knownHosts = fields.length >= 3 && KEY_TYPE.test(fields[1]) && fields[2].startsWith("AAAA");
    const hint = knownHosts ? " (this looks like a known_hosts line: drop the host names before the key type)" : "";
    throw new RangeError(`${USAGE}${hint}${currentValue(text)}`);
  }
  const [type, blob] = fields;
  const bytes = decodeBase64(blob);
  if (bytes === undefined) throw new RangeError(`${USAGE}: the key is not valid base64${currentValue(text)}`);
  const wireType = typeInBlob(bytes);
  if (wireType !== type) {
    const found = wireType === undefined ? "no key type" : `type ${JSON.stringify(wireType)}`;
    throw new RangeError(`${USAGE}: the key says ${type} but its data holds ${found}${currentValue(text)}`);
  }
  return `${type} ${blob}`;
}

function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The string an SSH key blob starts with (uint32 big-endian length, then that many bytes), if it has one. */
function typeInBlob(bytes: Uint8Array): string | undefined {
  if (bytes.length < 4) return undefined;
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
  if (length === 0 || length > 64 || bytes.length < 4 + length) return undefined;
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(4, 4 + length));
}
