/**
 * One YAML (or JSON) file being read: its syntax tree, and the problems found
 * so far, each at the line and column of the node it is about. The readers of
 * the inventory and credentials files walk the tree through it.
 *
 * @module
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLError } from "yaml";
import { closestName } from "./closest_name.ts";
import { childPath, type InventoryProblem } from "./problem.ts";

/** A 1-based place in a file. */
export interface Position {
  line: number;
  column: number;
}

/** What {@linkcode YamlSource.mapping} accepts: the keys that must be there, and those that may. */
export interface MappingKeys {
  required: readonly string[];
  optional: readonly string[];
  /**
   * Whether a message may quote an unknown key. False in the credentials file:
   * `{admin, s3cret}` is a mapping whose keys are a user name and a password.
   * @default true
   */
  quoteUnknown?: boolean;
}

/** A node of the tree, or null where YAML has nothing (`{a}` has no value for a). */
export type YamlNode = Node | null;

/** Whether YAML has no value here: no node, or null (`key:`, `key: ~`, JSON's `null`). */
export function isNothing(node: YamlNode): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/**
 * A parsed file. `root` is null when the file is not valid YAML: its syntax
 * errors are then the problems, and nothing else is looked at (a partial tree
 * would only add confusing follow-on problems).
 */
export class YamlSource {
  readonly problems: InventoryProblem[] = [];
  readonly root: YamlNode = null;
  readonly #lines = new LineCounter();
  readonly #doc;

  /**
   * Parses `text` from `file`. With `secret`, syntax errors say only what kind
   * of error it is: some of the yaml library's messages quote the source (an
   * escape sequence, a tag), which may be part of a password.
   */
  constructor(text: string, readonly file: string, options: { secret?: boolean } = {}) {
    // prettyErrors would append the offending source line to each message; we place errors ourselves.
    this.#doc = parseDocument(text, { lineCounter: this.#lines, prettyErrors: false });
    // Warnings count too: an unknown tag (`password: !x y`) would otherwise quietly drop the `!x`.
    const errors = [...this.#doc.errors, ...this.#doc.warnings];
    for (const error of errors) this.#syntaxError(error, options.secret ?? false);
    if (errors.length === 0) this.root = this.#doc.contents;
  }

  /** Where `node` starts (the start of the file for no node). */
  position(node: YamlNode): Position {
    const { line, col } = this.#lines.linePos(node?.range?.[0] ?? 0);
    return { line, column: col };
  }

  /** Records a problem at `at` (a node, or a position taken earlier). */
  report(at: YamlNode | Position, path: string, message: string): void {
    const { line, column } = at !== null && "line" in at ? at : this.position(at);
    this.problems.push({ file: this.file, line, column, path, message });
  }

  /** The node an alias (`*name`) points at; any other node as it is. */
  resolve(node: YamlNode | undefined): YamlNode {
    if (node === undefined || node === null) return null;
    // An alias to no anchor stays itself, so the problem it makes is reported where it is.
    return isAlias(node) ? (node.resolve(this.#doc) ?? node) : node;
  }

  /**
   * The entries of a mapping, by key. Reports a node that is not a mapping
   * (as `must be a mapping …` + `expected`, returning undefined), every key
   * that is not a string, unknown keys (with "did you mean"), and each
   * required key that is missing, at the mapping.
   */
  mapping(node: YamlNode, path: string, keys: MappingKeys, expected: string): Map<string, YamlNode> | undefined {
    const pairs = this.#pairs(node, path, expected);
    if (pairs === undefined) return undefined;
    const known = [...keys.required, ...keys.optional];
    const entries = new Map<string, YamlNode>();
    for (const { key, keyNode, value } of pairs) {
      if (!known.includes(key)) {
        const guess = closestName(key, known);
        const hint = guess === undefined ? `: expected ${known.join(", ")}` : ` (did you mean '${guess}'?)`;
        if (keys.quoteUnknown === false) this.report(keyNode, path, `unknown key${hint}`);
        else this.report(keyNode, childPath(path, key), `unknown key '${key}'${hint}`);
        continue;
      }
      entries.set(key, value);
    }
    for (const name of keys.required) {
      if (!entries.has(name)) this.report(node, childPath(path, name), "is required");
    }
    return entries;
  }

  /**
   * The entries of a mapping whose keys are names the operator chose, with
   * each key's node, or undefined (reported as `must be a mapping` + `expected`).
   */
  namedEntries(
    node: YamlNode,
    path: string,
    expected: string,
  ): { key: string; keyNode: Node; value: YamlNode }[] | undefined {
    return this.#pairs(node, path, expected);
  }

  /** The items of a sequence, or undefined (reported as `must be a sequence` + `expected`). */
  sequence(node: YamlNode, path: string, expected: string): YamlNode[] | undefined {
    if (!isSeq(node)) {
      this.#wrongType(node, path, `must be a sequence${expected}`);
      return undefined;
    }
    return node.items.map((item) => this.resolve(item as Node | null));
  }

  /**
   * The string a scalar holds, or undefined (reported: `must be a string`).
   * A plain scalar that YAML reads as a number or boolean gives its text as
   * written: `password: 0123` is "0123", not 83.
   */
  text(node: YamlNode, path: string): string | undefined {
    if (isScalar(node) && typeof node.value === "string") return node.value;
    if (isScalar(node) && node.value !== null && typeof node.source === "string") return node.source;
    this.#wrongType(node, path, "must be a string");
    return undefined;
  }

  /**
   * The text of an optional `key` of a mapping read by {@linkcode mapping}:
   * null when it is absent or YAML's null (`key:`, `key: ~`), undefined when
   * it is not a string (reported).
   */
  optionalText(entries: Map<string, YamlNode>, key: string, path: string): string | null | undefined {
    const node = entries.get(key);
    if (node === undefined || isNothing(node)) return null;
    return this.text(node, childPath(path, key));
  }

  /**
   * The text of a required `key`, or undefined: missing (already reported by
   * {@linkcode mapping}), empty or not a string (reported here).
   */
  requiredText(entries: Map<string, YamlNode>, key: string, path: string): string | undefined {
    const node = entries.get(key);
    if (node === undefined) return undefined;
    const text = isNothing(node) ? undefined : this.text(node, childPath(path, key));
    if (text === "" || isNothing(node)) this.report(node, childPath(path, key), "is required (empty here)");
    return text === "" ? undefined : text;
  }

  /**
   * The text of `key` run through `parse`, which throws a `RangeError` whose
   * message is the problem (reported at the value). Undefined when the key is
   * absent, null (reported if `required`) or wrong.
   */
  parsedText<T>(
    entries: Map<string, YamlNode>,
    key: string,
    path: string,
    options: { parse: (text: string) => T; required: boolean },
  ): T | undefined {
    const text = options.required ? this.requiredText(entries, key, path) : this.optionalText(entries, key, path);
    if (typeof text !== "string") return undefined;
    try {
      return options.parse(text);
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
      this.report(entries.get(key) ?? null, childPath(path, key), error.message);
      return undefined;
    }
  }

  /** A mapping's pairs with string keys (other keys are reported), aliases resolved. */
  #pairs(node: YamlNode, path: string, expected: string) {
    if (!isMap(node)) {
      this.#wrongType(node, path, `must be a mapping${expected}`);
      return undefined;
    }
    const pairs: { key: string; keyNode: Node; value: YamlNode }[] = [];
    for (const pair of node.items) {
      const keyNode = this.resolve(pair.key as Node | null);
      // As in text(): a key YAML reads as a number (`1234:`) is its text as written.
      const key = !isScalar(keyNode) || keyNode.value === null
        ? undefined
        : typeof keyNode.value === "string"
        ? keyNode.value
        : keyNode.source;
      if (keyNode === null || typeof key !== "string") {
        this.report(keyNode, path, "keys must be strings");
        continue;
      }
      pairs.push({ key, keyNode, value: this.resolve(pair.value as Node | null) });
    }
    return pairs;
  }

  /** Reports a node of the wrong kind; an alias that did not resolve says so instead. */
  #wrongType(node: YamlNode, path: string, message: string): void {
    const alias = isAlias(node);
    this.report(node, path, alias ? "is an alias (*) to no anchor: quote a value that starts with *" : message);
  }

  #syntaxError(error: YAMLError, secret: boolean): void {
    const { line, col } = this.#lines.linePos(Math.max(0, error.pos[0]));
    const detail = OUR_WORDS[error.code] ?? (secret ? (WITHOUT_SOURCE[error.code] ?? error.code) : error.message);
    this.problems.push({ file: this.file, line, column: col, path: "", message: `is not valid YAML: ${detail}` });
  }
}

/** Errors whose library message names a library function or reads poorly. */
const OUR_WORDS: Partial<Record<YAMLError["code"], string>> = {
  DUPLICATE_KEY: "a key appears twice in one mapping",
  MULTIPLE_DOCS: "holds more than one document (---)",
  TAG_RESOLVE_FAILED: "an unknown tag (!…): quote a value that starts with !",
};

/** What each error is, in words that quote nothing from the file (for a file of secrets). */
const WITHOUT_SOURCE: Partial<Record<YAMLError["code"], string>> = {
  BAD_INDENT: "bad indentation",
  TAB_AS_INDENT: "a tab indents a line (indent with spaces)",
  MISSING_CHAR: "a closing bracket, quote, comma or colon is missing",
  BAD_DQ_ESCAPE: "a double-quoted string holds an invalid escape (quote a backslash with single quotes)",
  BAD_SCALAR_START: "a plain value starts with a character YAML reserves (quote the value)",
  MULTILINE_IMPLICIT_KEY: "a key spans lines",
  BLOCK_AS_IMPLICIT_KEY: "a block where a key should be",
  UNEXPECTED_TOKEN: "unexpected text",
  BAD_ALIAS: "an alias (*) names no anchor (quote a value that starts with *)",
};
