/**
 * Reads the inventory file's text: every machine, and every problem at its
 * line and column, including those between machines (duplicate ids, two
 * machines on one BMC).
 *
 * @module
 */
import type { OutsideReference } from "./bmc.ts";
import { type InventoryMachine, readMachine } from "./machine.ts";
import { type InventoryProblem, sortProblems } from "./problem.ts";
import { YamlSource } from "./yaml_source.ts";

/** What the inventory file says, and what it refers to outside itself (for {@linkcode loadInventory}). */
export interface InventorySource {
  /** The inventory file, as named in problems. */
  file: string;
  /** The valid machines, in file order (a machine with a problem is left out). */
  machines: InventoryMachine[];
  problems: InventoryProblem[];
  /** Every bmc's `credentials`, valid machine or not, so a missing name is reported either way. */
  credentials: OutsideReference[];
  /** Every bmc's `tls.ca`, by CA file (absolute path): each file is read and reported once. */
  caFiles: Map<string, OutsideReference[]>;
}

const TOP_KEYS = { required: ["machines"], optional: [] };

/**
 * Parses an inventory file's text (YAML, or JSON, which is YAML). Pure: CA
 * files are not read, so a `tls: { ca }` has an empty `ca` and its absolute
 * `caPath` (relative paths are taken from `file`'s directory);
 * {@linkcode loadInventory} reads them. `file` names the file in problems.
 *
 * Returns the valid machines in file order, and every problem; use the
 * machines only when there are none.
 */
export function parseInventory(
  text: string,
  file: string,
): { machines: InventoryMachine[]; problems: InventoryProblem[] } {
  const { machines, problems } = readInventorySource(text, file);
  return { machines, problems };
}

/** {@linkcode parseInventory}, with what the file refers to outside itself. */
export function readInventorySource(text: string, file: string): InventorySource {
  const source = new YamlSource(text, file);
  const result: InventorySource = {
    file,
    machines: [],
    problems: source.problems,
    credentials: [],
    caFiles: new Map(),
  };
  if (source.problems.length > 0) return result; // a syntax error: nothing else is looked at

  const top = source.mapping(source.root, "", TOP_KEYS, " with machines, e.g. machines: [] (an empty file is not one)");
  const items = top?.has("machines")
    ? source.sequence(top.get("machines") ?? null, "machines", " (use [] for none)")
    : [];
  const ids = new Map<string, number>(); // id → line of its first machine
  const bmcs = new Map<string, { index: number; line: number }>(); // url + system → first machine
  for (const [index, node] of (items ?? []).entries()) {
    const entry = readMachine(source, node, index);
    if (entry.id !== undefined) {
      const first = ids.get(entry.id.value);
      if (first === undefined) {
        ids.set(entry.id.value, entry.id.position.line);
      } else {
        const lines = `lines ${first} and ${entry.id.position.line}`;
        source.report(entry.id.position, `machines[${index}].id`, `id "${entry.id.value}" is used twice, on ${lines}`);
        entry.machine = undefined;
      }
    }
    const bmc = entry.bmc;
    if (bmc?.credentials !== undefined) result.credentials.push(bmc.credentials);
    if (bmc?.ca !== undefined) result.caFiles.set(bmc.ca.value, [...result.caFiles.get(bmc.ca.value) ?? [], bmc.ca]);
    if (bmc?.bmc !== undefined) {
      const key = `${bmc.bmc.url} ${bmc.bmc.system ?? ""}`;
      const first = bmcs.get(key);
      if (first === undefined) {
        bmcs.set(key, { index, line: bmc.position.line });
      } else {
        source.report(
          bmc.position,
          `machines[${index}].bmc`,
          `same BMC (url and system) as machines[${first.index}], on lines ${first.line} and ${bmc.position.line}: ` +
            "each machine needs its own (set system when one BMC serves several)",
        );
        entry.machine = undefined;
      }
    }
    if (entry.machine !== undefined) result.machines.push(entry.machine);
  }
  // The checks between machines report after the machines they compare: put every problem in file order.
  result.problems = sortProblems(source.problems, [file]);
  return result;
}
