/**
 * One machine of the inventory: its id (the provider id), how to log in, where
 * it stands, its host key and its BMC.
 *
 * @module
 */
import { type BmcEntry, type InventoryBmc, readBmc } from "./bmc.ts";
import { normaliseHostKey } from "./host_key.ts";
import { childPath, currentValue } from "./problem.ts";
import { parseSshTarget, type SshTarget } from "./ssh_target.ts";
import { isNothing, type Position, type YamlNode, type YamlSource } from "./yaml_source.ts";

/** A machine an operator owns, as the inventory file lists it. */
export interface InventoryMachine {
  /** Unique in the inventory, `[A-Za-z0-9._-]{1,128}`; the provider id. */
  id: string;
  /** How Drover logs in. */
  ssh: SshTarget;
  /** Site or rack, `[A-Za-z0-9._-]{1,128}`. */
  location: string | null;
  /** The expected SSH host key, normalised to `type base64` (comment dropped); null: not pinned. */
  hostKey: string | null;
  /** Null: no BMC, so no power control. */
  bmc: InventoryBmc | null;
  /**
   * Where the agent is uploaded on the machine (absolute, or relative to the
   * login's home); its state, pid and log go next to it. Null: the default
   * (`DROVER_AGENT_PATH`'s file name in the home directory).
   */
  agentPath: string | null;
  /** The line of the inventory file where its entry starts. */
  line: number;
}

/** What {@linkcode readMachine} found: the machine when it is valid, and its parts for the cross-checks. */
export interface MachineEntry {
  machine: InventoryMachine | undefined;
  /** Its id when that much is valid, for the duplicate check. */
  id?: { value: string; position: Position };
  /** Its bmc (absent: none, or not a mapping) and where it starts. */
  bmc?: BmcEntry & { position: Position };
}

const MACHINE_KEYS = { required: ["id", "ssh"], optional: ["location", "hostKey", "agentPath", "bmc"] };
const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** Reads `machines[index]`, reporting every problem to `source`. */
export function readMachine(source: YamlSource, node: YamlNode, index: number): MachineEntry {
  const path = childPath("machines", index);
  const problemsBefore = source.problems.length;
  const entry: MachineEntry = { machine: undefined };
  const entries = source.mapping(node, path, MACHINE_KEYS, " with id and ssh, e.g. { id: n17, ssh: root@10.0.0.5 }");
  if (entries === undefined) return entry;

  const id = source.parsedText(entries, "id", path, { parse: checkName, required: true });
  if (id !== undefined) entry.id = { value: id, position: source.position(entries.get("id") ?? null) };
  const ssh = source.parsedText(entries, "ssh", path, { parse: parseSshTarget, required: true });
  const location = source.parsedText(entries, "location", path, { parse: checkName, required: false });
  const hostKey = source.parsedText(entries, "hostKey", path, { parse: normaliseHostKey, required: false });
  const agentPath = source.parsedText(entries, "agentPath", path, { parse: checkAgentPath, required: false });
  const bmcNode = entries.get("bmc") ?? null;
  let bmc: InventoryBmc | null = null;
  if (!isNothing(bmcNode)) {
    const read = readBmc(source, bmcNode, childPath(path, "bmc"));
    entry.bmc = { ...read, position: source.position(bmcNode) };
    bmc = read.bmc ?? null;
  }

  if (source.problems.length > problemsBefore || id === undefined || ssh === undefined) return entry;
  entry.machine = {
    id,
    ssh,
    location: location ?? null,
    hostKey: hostKey ?? null,
    bmc,
    agentPath: agentPath ?? null,
    line: source.position(node).line,
  };
  return entry;
}

/**
 * A file path on the machine: 1 to 1024 characters, no newline or NUL, not ending in `/`.
 * @throws {RangeError} whose message is the problem.
 */
function checkAgentPath(text: string): string {
  if (!/^[^\0\n]{0,1023}[^\0\n/]$/.test(text)) {
    throw new RangeError(`must be a file path (no newline, not ending in /)${currentValue(text)}`);
  }
  return text;
}

/**
 * An id or location: 1 to 128 of `[A-Za-z0-9._-]`.
 * @throws {RangeError} whose message is the problem.
 */
function checkName(text: string): string {
  if (!NAME.test(text)) throw new RangeError(`must be 1 to 128 of A-Z a-z 0-9 . _ -${currentValue(text)}`);
  return text;
}
