/**
 * A machine's BMC, as the inventory describes it: where its Redfish service
 * is, which system, which credentials entry and how to trust its TLS.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { isScalar } from "yaml";
import { normaliseBmcUrl } from "./bmc_url.ts";
import { childPath, currentValue } from "./problem.ts";
import { isNothing, type Position, type YamlNode, type YamlSource } from "./yaml_source.ts";

/**
 * How to trust the BMC's certificate: the system's CAs (`verify`), not at all
 * (`insecure`), or the CA certificates in `ca` (PEM text, read from `caPath`).
 */
export type BmcTls = "verify" | "insecure" | { ca: string; caPath: string };

/** A machine's BMC: what power control needs. */
export interface InventoryBmc {
  /** The normalised origin, no trailing slash: `https://10.21.4.17`. Redfish is under `${url}/redfish/v1`. */
  url: string;
  /** The Redfish system, e.g. `/redfish/v1/Systems/1`; null: the only member of `/redfish/v1/Systems`. */
  system: string | null;
  /** The name of an entry of the credentials file. */
  credentials: string;
  /** How to trust its certificate; `verify` unless the inventory says otherwise. */
  tls: BmcTls;
}

/** A place in the inventory that names something outside it: a credentials entry or a CA file. */
export interface OutsideReference {
  /** The entry's name, or the CA file's absolute path. */
  value: string;
  position: Position;
  path: string;
}

/** What {@linkcode readBmc} found: the BMC when it is valid, and what it refers to even when it is not. */
export interface BmcEntry {
  bmc: InventoryBmc | undefined;
  credentials?: OutsideReference;
  ca?: OutsideReference;
}

const BMC_KEYS = { required: ["url", "credentials"], optional: ["system", "tls"] };
const SYSTEM = /^\/redfish\/v1\/Systems\/[^/?#\s]+\/?$/;

/**
 * Reads a machine's `bmc` mapping at `path`, reporting every problem to
 * `source`. A CA path is taken relative to the inventory file; the CA's text
 * is read later (`ca` is empty here).
 */
export function readBmc(source: YamlSource, node: YamlNode, path: string): BmcEntry {
  const problemsBefore = source.problems.length;
  const entries = source.mapping(
    node,
    path,
    BMC_KEYS,
    " with url and credentials, e.g. { url: https://10.21.4.17, … }",
  );
  if (entries === undefined) return { bmc: undefined };
  const entry: BmcEntry = { bmc: undefined };

  const url = source.parsedText(entries, "url", path, { parse: normaliseBmcUrl, required: true });

  const system = source.parsedText(entries, "system", path, { parse: parseRedfishSystem, required: false });

  const credentials = source.requiredText(entries, "credentials", path);
  if (credentials !== undefined) {
    const at = source.position(entries.get("credentials") ?? null);
    entry.credentials = { value: credentials, position: at, path: childPath(path, "credentials") };
  }

  const tls = readTls(source, entries.get("tls") ?? null, childPath(path, "tls"), entry);
  if (url?.startsWith("http:") && tls !== undefined && tls !== "insecure") {
    if (typeof tls === "object") {
      source.report(entries.get("tls") ?? null, childPath(path, "tls"), "a CA needs an https BMC URL");
    } else {
      source.report(
        entries.get("url") ?? null,
        childPath(path, "url"),
        "BMC URL is not https: set tls: insecure to use it anyway",
      );
    }
  }

  if (source.problems.length > problemsBefore || url === undefined || credentials === undefined || !tls) return entry;
  entry.bmc = { url, system: system ?? null, credentials, tls };
  return entry;
}

/** `tls`: absent or null is `verify`; `{ ca: path }` records the CA file's reference on `entry`. */
function readTls(source: YamlSource, node: YamlNode, path: string, entry: BmcEntry): BmcTls | undefined {
  if (isNothing(node)) return "verify";
  if (isScalar(node)) {
    if (node.value === "verify" || node.value === "insecure") return node.value;
    const shown = typeof node.value === "string" ? currentValue(node.value) : "";
    source.report(node, path, `must be verify, insecure or { ca: ./bmc-ca.pem }${shown}`);
    return undefined;
  }
  const entries = source.mapping(node, path, { required: ["ca"], optional: [] }, ": verify, insecure or { ca: … }");
  const caText = entries && source.requiredText(entries, "ca", path);
  if (caText === undefined || entries === undefined) return undefined;
  const caPath = resolve(dirname(source.file), caText);
  entry.ca = { value: caPath, position: source.position(entries.get("ca") ?? null), path: childPath(path, "ca") };
  return { ca: "", caPath };
}

/**
 * A Redfish system's path, e.g. `/redfish/v1/Systems/1`, without a trailing slash.
 * @throws {RangeError} whose message is the problem.
 */
function parseRedfishSystem(text: string): string {
  if (!SYSTEM.test(text)) {
    throw new RangeError(`must be a Redfish system, e.g. /redfish/v1/Systems/1${currentValue(text)}`);
  }
  return text.replace(/\/$/, "");
}
