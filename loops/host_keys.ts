/**
 * SSH host keys as the SSH starter checks them: what a machine presented
 * (the key blob in SSH wire format), in OpenSSH's public key form and as its
 * SHA256 fingerprint, and the policy a machine is reached under:
 *
 * - `any`: any key (a freshly created cloud device makes its key on first
 *   boot, so there is nothing to check it against);
 * - `pinned`: exactly the key an inventory entry names (`hostKey`);
 * - `firstUse`: the key recorded the first time Drover reached the machine
 *   (none recorded yet: the key seen now is recorded with the agent), and a
 *   different key later is refused until an operator clears the record.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

/** How a machine's host key is checked. */
export type HostKeyPolicy =
  | { kind: "any" }
  | { kind: "pinned"; key: string; where: string }
  | { kind: "firstUse"; recorded: { key: string; at?: Date } | null };

/** A key blob (SSH wire format) as OpenSSH writes a public key: `<type> <base64>`, e.g. "ssh-ed25519 AAAA…". */
export function openSshPublicKey(blob: Uint8Array): string {
  const bytes = Buffer.from(blob);
  const length = bytes.length >= 4 ? bytes.readUInt32BE(0) : 0;
  const type = length > 0 && length <= 64 && 4 + length <= bytes.length
    ? bytes.subarray(4, 4 + length).toString("latin1")
    : "unknown";
  return `${type} ${bytes.toString("base64")}`;
}

/** OpenSSH's fingerprint of a public key line (`SHA256:<base64, unpadded>`), as `ssh-keygen -l` prints it. */
export function fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.trim().split(/\s+/)[1] ?? "", "base64");
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** `<type> <base64>` of an OpenSSH public key line (its comment dropped), for comparing keys. */
export function normaliseKey(line: string): string {
  const [type, blob] = line.trim().split(/\s+/);
  return `${type} ${blob}`;
}

/** Why `presented` is refused under `policy`, or undefined when it is accepted. */
export function hostKeyRefusal(policy: HostKeyPolicy, presented: string): string | undefined {
  const seen = `${presented.split(" ")[0]} ${fingerprint(presented)}`;
  switch (policy.kind) {
    case "any":
      return undefined;
    case "pinned": {
      if (normaliseKey(policy.key) === presented) return undefined;
      return `host key mismatch: the machine presented ${seen}, but ${policy.where} pins ` +
        `${normaliseKey(policy.key).split(" ")[0]} ${fingerprint(policy.key)}; if the machine was reinstalled, ` +
        `update hostKey in the inventory`;
    }
    case "firstUse": {
      if (policy.recorded === null || normaliseKey(policy.recorded.key) === presented) return undefined;
      const when = policy.recorded.at ? ` on ${policy.recorded.at.toISOString()}` : "";
      return `host key mismatch: the machine presented ${seen}, but Drover recorded ` +
        `${normaliseKey(policy.recorded.key).split(" ")[0]} ${fingerprint(policy.recorded.key)}${when} ` +
        `(trust on first use); if the machine was reinstalled, clear the recorded key on its page`;
    }
  }
}
