/**
 * Loading the inventory from disk: the inventory file, the credentials file
 * (only if no one else may read it) and the CA files the BMCs name, checked
 * against each other, every problem of every file reported at once.
 *
 * @module
 */
import { resolve } from "node:path";
import type { InventoryMachine } from "./machine.ts";
import { checkCaCertificates } from "./ca_certificate.ts";
import { type CredentialsSource, readCredentialsSource } from "./credentials.ts";
import { createInventory, type Inventory } from "./inventory.ts";
import { type InventorySource, readInventorySource } from "./parse_inventory.ts";
import { InventoryError, type InventoryProblem, sortProblems } from "./problem.ts";
import { describeReadError, readTextFile } from "./text_file.ts";

/** Where the operator's files are. */
export interface LoadInventoryOptions {
  /** The inventory file (`DROVER_INVENTORY`, `--inventory`). */
  inventoryPath: string;
  /** The BMC credentials file (`DROVER_BMC_CREDENTIALS`, `--bmc-credentials`); needed once any machine has a bmc. */
  credentialsPath?: string;
}

/** One read of the files: the inventory or every problem, and each file it read or tried to (absolute paths). */
export interface InventoryRead {
  result: Inventory | InventoryError;
  files: string[];
}

/**
 * Reads the inventory file, the credentials file and the CA files, checks the
 * credentials file is readable only by its owner, and checks each bmc's
 * `credentials` names an entry.
 * @throws {InventoryError} with every problem of every file (a missing file is
 *   one, naming it). Nothing is returned unless all is well.
 */
export async function loadInventory(options: LoadInventoryOptions): Promise<Inventory> {
  const { result } = await readInventory(options);
  if (result instanceof InventoryError) throw result;
  return result;
}

/** {@linkcode loadInventory}, returning the error instead of throwing it, and the files it looked at. */
export async function readInventory(options: LoadInventoryOptions): Promise<InventoryRead> {
  const { inventoryPath, credentialsPath } = options;
  const problems: InventoryProblem[] = [];
  const files = [resolve(inventoryPath)];
  const inventory = await readInventoryFile(inventoryPath, problems);
  let credentials: CredentialsSource | undefined;
  if (credentialsPath !== undefined) {
    files.push(resolve(credentialsPath));
    credentials = await readCredentialsFile(credentialsPath, problems);
  }
  let machines: InventoryMachine[] = [];
  if (inventory !== undefined) {
    checkCredentialNames(inventory, credentialsPath === undefined ? "unset" : credentials, problems);
    files.push(...inventory.caFiles.keys());
    machines = withCaText(inventory.machines, await readCaFiles(inventory, problems));
  }
  if (problems.length > 0) {
    return { result: new InventoryError(sortProblems(problems, [inventoryPath, credentialsPath ?? ""])), files };
  }
  return {
    result: createInventory(inventoryPath, { machines, credentials: credentials?.credentials ?? new Map() }),
    files,
  };
}

async function readInventoryFile(path: string, problems: InventoryProblem[]): Promise<InventorySource | undefined> {
  let text: string;
  try {
    ({ text } = await readTextFile(path));
  } catch (error) {
    problems.push(wholeFile(path, describeReadError(error)));
    return undefined;
  }
  const source = readInventorySource(text, path);
  problems.push(...source.problems);
  return source;
}

/** The credentials file, unless it cannot be read or others may read it (then refused unread, as ssh refuses a key). */
async function readCredentialsFile(path: string, problems: InventoryProblem[]): Promise<CredentialsSource | undefined> {
  let text: string;
  try {
    const file = await readTextFile(path);
    if (file.mode !== null && (file.mode & 0o077) !== 0) {
      const reach = (file.mode & 0o044) !== 0 ? "readable" : "writable or executable";
      const mode = (file.mode & 0o7777).toString(8).padStart(4, "0");
      problems.push(wholeFile(path, `file is ${reach} by group or others (mode ${mode}): chmod 600 it`));
      return undefined;
    }
    text = file.text;
  } catch (error) {
    problems.push(wholeFile(path, describeReadError(error)));
    return undefined;
  }
  const source = readCredentialsSource(text, path);
  problems.push(...source.problems);
  return source;
}

/**
 * Each bmc's `credentials` must name an entry of the credentials file (an
 * entry with problems of its own counts: it is reported there). With no file
 * set, one problem, at the first bmc; with a file that could not be read, none.
 */
function checkCredentialNames(
  inventory: InventorySource,
  credentials: CredentialsSource | "unset" | undefined,
  problems: InventoryProblem[],
): void {
  const at = (ref: InventorySource["credentials"][number], message: string): InventoryProblem => ({
    file: inventory.file,
    ...ref.position,
    path: ref.path,
    message,
  });
  if (credentials === "unset") {
    const [first] = inventory.credentials;
    const count = inventory.credentials.length;
    if (first === undefined) return;
    const others = count > 1 ? ` (${count} machines have a bmc)` : "";
    problems.push(
      at(first, `no BMC credentials file is set: set DROVER_BMC_CREDENTIALS or --bmc-credentials${others}`),
    );
    return;
  }
  if (credentials === undefined) return;
  for (const ref of inventory.credentials) {
    if (credentials.names.has(ref.value)) continue;
    problems.push(at(ref, `"${ref.value}" is not an entry of the credentials file`));
  }
}

/** Reads each CA file once; a file that cannot be read or holds no certificate is reported where it is first named. */
async function readCaFiles(inventory: InventorySource, problems: InventoryProblem[]): Promise<Map<string, string>> {
  const pems = new Map<string, string>();
  for (const [caPath, refs] of inventory.caFiles) {
    let message: string;
    try {
      const { text } = await readTextFile(caPath);
      checkCaCertificates(text);
      pems.set(caPath, text);
      continue;
    } catch (error) {
      message = error instanceof RangeError ? `${caPath} ${error.message}` : `${describeReadError(error)}: ${caPath}`;
    }
    const [first, ...others] = refs;
    const lines = others.map((ref) => ref.position.line).join(", ");
    const also = others.length === 0 ? "" : ` (also named on line${others.length > 1 ? "s" : ""} ${lines})`;
    problems.push({ file: inventory.file, ...first.position, path: first.path, message: message + also });
  }
  return pems;
}

/** The machines with each CA's text put in. */
function withCaText(machines: InventoryMachine[], pems: Map<string, string>): InventoryMachine[] {
  return machines.map((machine) => {
    const tls = machine.bmc?.tls;
    if (machine.bmc === null || typeof tls !== "object") return machine;
    return { ...machine, bmc: { ...machine.bmc, tls: { ca: pems.get(tls.caPath) ?? "", caPath: tls.caPath } } };
  });
}

/** A problem with the whole file. */
function wholeFile(file: string, message: string): InventoryProblem {
  return { file, line: 0, column: 0, path: "", message };
}
