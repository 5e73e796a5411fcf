/**
 * What is wrong with an inventory or credentials file: one
 * {@linkcode InventoryProblem} per mistake, each at its file, line and column,
 * and {@linkcode InventoryError}, which carries every problem of one load.
 *
 * @module
 */

/**
 * One mistake in a file. `line` and `column` are 1-based; both are 0 when the
 * problem is the whole file (missing, unreadable, readable by others), and
 * `path` is then empty.
 */
export interface InventoryProblem {
  /** The file as it was named to Drover (the setting's value, or the resolved path of a CA file). */
  file: string;
  /** 1-based; 0 for the whole file. */
  line: number;
  /** 1-based; 0 for the whole file. */
  column: number;
  /** Where in the document, e.g. `machines[3].bmc.url` or `rack-a.password`; empty for the whole file. */
  path: string;
  /** What is wrong, e.g. `must be user@host[:port], e.g. root@10.0.0.5:22: current value is "root@"`. */
  message: string;
}

/**
 * One problem as an operator reads it, like a compiler's:
 * `inventory.yaml:12:7: machines[3].ssh: must be user@host[:port], …`, or
 * `bmc.yaml: file is missing` for the whole file.
 */
export function formatInventoryProblem(problem: InventoryProblem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column}` : problem.file;
  return problem.path === "" ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}

/**
 * The inventory (or its credentials file) cannot be used: `problems` lists
 * every mistake found, in file order, and the message lists them one per line.
 * No message quotes a password.
 *
 * What to do next: at start, report it and exit; on a reload, keep the last
 * good inventory (as {@linkcode InventoryWatcher} does) and report it.
 */
export class InventoryError extends Error {
  /** An error listing `problems` (in the order given) in its message. */
  constructor(readonly problems: InventoryProblem[], options?: ErrorOptions) {
    const count = problems.length === 1 ? "1 problem" : `${problems.length} problems`;
    super(
      `Invalid inventory (${count}):\n${problems.map((p) => `  ${formatInventoryProblem(p)}`).join("\n")}`,
      options,
    );
    this.name = "InventoryError";
  }
}

/** Values longer than this are cut in messages: a host key is hundreds of characters. */
const SHOWN_VALUE_CHARS = 60;

/**
 * The tail that shows an operator what they wrote, as in server/config.ts:
 * `: current value is "root@"`. Never use it for a secret.
 */
export function currentValue(text: string): string {
  const shown = text.length > SHOWN_VALUE_CHARS ? `${text.slice(0, SHOWN_VALUE_CHARS)}…` : text;
  return `: current value is ${JSON.stringify(shown)}`;
}

/** `machines[3]` + `ssh` → `machines[3].ssh`; a key that is not a plain word is quoted: `["rack a"]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `${parent}[${JSON.stringify(key)}]`;
  return parent === "" ? key : `${parent}.${key}`;
}

/** Orders problems as an operator reads them: by file (in the order given), then line, then column. */
export function sortProblems(problems: InventoryProblem[], fileOrder: string[]): InventoryProblem[] {
  const rank = (file: string) => {
    const index = fileOrder.indexOf(file);
    return index === -1 ? fileOrder.length : index;
  };
  return problems.toSorted((a, b) => rank(a.file) - rank(b.file) || a.line - b.line || a.column - b.column);
}
