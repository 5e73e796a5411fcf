/**
 * The agent's wire protocol, shared by the agent (which signs) and the
 * server's agent API (which verifies). Web APIs only: the agent is bundled
 * into one file and uploaded, so this module imports nothing.
 *
 * 1. Takeover: the initializer runs the agent with a {@linkcode TakeoverInit}
 *    as JSON on stdin; the agent makes an ed25519 key pair and answers with
 *    one line of JSON on stdout, a {@linkcode TakeoverReply} carrying its
 *    public key. The initializer records that key in
 *    `machine_agent_started.agent_public_key`.
 * 2. Agent API: every request is a JSON body POSTed to
 *    `<agentUrl>/agent/v1/<endpoint>`, with the header
 *    {@linkcode SIGNATURE_HEADER}: base64 of the ed25519 signature over
 *    {@linkcode signingInput} (the protocol tag, the path and the exact body
 *    bytes). The body carries `sentAt`, which must be within the server's
 *    clock skew and later than the machine's last accepted request: that is
 *    the replay protection, and it holds across server replicas because the
 *    last accepted time lives in the BMDB.
 *
 * @module
 */

/** Names the protocol in the takeover reply and in every signature. */
export const AGENT_PROTOCOL = "drover-agent/1";

/** Where the agent API is mounted on the Drover server. */
export const AGENT_API_PREFIX = "/agent/v1";

/** The endpoints under {@linkcode AGENT_API_PREFIX}. */
export const AgentEndpoint = {
  Heartbeat: "/heartbeat",
  HardwareReport: "/hardware-report",
} as const;
export type AgentEndpoint = typeof AgentEndpoint[keyof typeof AgentEndpoint];

/** The request header carrying the signature (base64). */
export const SIGNATURE_HEADER = "drover-agent-signature";

/** What the initializer sends the agent on stdin. */
export interface TakeoverInit {
  /** The BMDB machine the agent runs on. */
  machineId: string;
  /** The Drover server's base URL as the machine reaches it, e.g. `http://10.0.0.1:8080`. */
  agentUrl: string;
  /** Seconds between heartbeats. */
  heartbeatIntervalSeconds: number;
}

/** The agent's one line of JSON on stdout after a takeover. */
export interface TakeoverReply {
  protocol: typeof AGENT_PROTOCOL;
  /** base64 of the raw 32-byte ed25519 public key. */
  agentPublicKey: string;
}

/** Body of POST /heartbeat. */
export interface HeartbeatRequest {
  machineId: string;
  /** ISO 8601 with milliseconds; strictly increasing per agent. */
  sentAt: string;
}

/** What the agent found on the machine it runs on. */
export interface HardwareReport {
  cpu: { model: string; cores: number; threads: number };
  memoryBytes: number;
  disks: { name: string; sizeBytes: number; model: string | null; rotational: boolean | null }[];
  nics: { name: string; mac: string | null; speedMbps: number | null }[];
  /** True when the values are made up (a simulated machine). */
  simulated: boolean;
}

/** Body of POST /hardware-report. */
export interface HardwareReportRequest {
  machineId: string;
  sentAt: string;
  report: HardwareReport;
}

const encoder = new TextEncoder();

/** The bytes a request's signature covers: protocol tag, path, newline, body. */
export function signingInput(path: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const head = encoder.encode(`${AGENT_PROTOCOL}\n${path}\n`);
  const input = new Uint8Array(head.length + body.length);
  input.set(head);
  input.set(body, head.length);
  return input;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Decodes base64; undefined when `text` is not base64. */
export function fromBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** A fresh ed25519 key pair; the private key is extractable so a detached agent can take it along. */
export async function generateAgentKeys(): Promise<CryptoKeyPair> {
  return await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]) as CryptoKeyPair;
}

/** The raw 32-byte public key. */
export async function exportPublicKey(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey("raw", key));
}

/** base64 signature of `body` sent to `path`. */
export async function signRequest(privateKey: CryptoKey, path: string, body: Uint8Array): Promise<string> {
  const signature = await crypto.subtle.sign({ name: "Ed25519" }, privateKey, signingInput(path, body));
  return toBase64(new Uint8Array(signature));
}

/** Imports a raw 32-byte ed25519 public key for {@linkcode verifyWithKey}; undefined when it is not one. */
export async function importPublicKey(publicKey: Uint8Array): Promise<CryptoKey | undefined> {
  if (publicKey.length !== 32) return undefined;
  try {
    return await crypto.subtle.importKey("raw", publicKey.slice(), { name: "Ed25519" }, false, ["verify"]);
  } catch {
    return undefined;
  }
}

/** Whether `signature` (base64) is `key`'s signature of `body` sent to `path`. False for any malformed part. */
export async function verifyWithKey(
  key: CryptoKey,
  path: string,
  body: Uint8Array,
  signature: string,
): Promise<boolean> {
  const sig = fromBase64(signature);
  if (sig === undefined || sig.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, key, sig, signingInput(path, body));
  } catch {
    return false;
  }
}

/** Whether `signature` (base64) is `publicKey`'s signature of `body` sent to `path`. False for any malformed part. */
export async function verifyRequest(
  publicKey: Uint8Array,
  path: string,
  body: Uint8Array,
  signature: string,
): Promise<boolean> {
  const key = await importPublicKey(publicKey);
  return key !== undefined && await verifyWithKey(key, path, body, signature);
}
