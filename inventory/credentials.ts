/**
 * The BMC credentials file: named user name and password pairs, which the
 * inventory's machines refer to by name. No problem, message or inspection of
 * a credential ever shows a password.
 *
 * ```yaml
 * rack-a: { username: admin, password: "s3cret" }
 * ```
 *
 * @module
 */
import { childPath, type InventoryProblem, sortProblems } from "./problem.ts";
import { YamlSource } from "./yaml_source.ts";

/**
 * A BMC login. `JSON.stringify` and `Deno.inspect` (so `console.log`) show the
 * password as `[redacted]`; the field itself holds it.
 */
export interface BmcCredential {
  /** Non-empty. */
  username: string;
  /** Non-empty. Never log it. */
  password: string;
}

/** What the credentials file says, and every name it holds, valid or not (for the cross-check). */
export interface CredentialsSource {
  credentials: Map<string, BmcCredential>;
  problems: InventoryProblem[];
  names: Set<string>;
}

const ENTRY_KEYS = { required: ["username", "password"], optional: [], quoteUnknown: false };

/**
 * Parses a credentials file's text (YAML or JSON): a mapping from names to
 * `{ username, password }`, both non-empty strings, nothing else. Returns the
 * valid entries and every problem; no problem quotes a value of the file.
 */
export function parseCredentials(
  text: string,
  file: string,
): { credentials: Map<string, BmcCredential>; problems: InventoryProblem[] } {
  const { credentials, problems } = readCredentialsSource(text, file);
  return { credentials, problems };
}

/** {@linkcode parseCredentials}, with every name the file holds. */
export function readCredentialsSource(text: string, file: string): CredentialsSource {
  const source = new YamlSource(text, file, { secret: true });
  const result: CredentialsSource = { credentials: new Map(), problems: source.problems, names: new Set() };
  if (source.problems.length > 0) return result;

  const expected = " of names to { username, password }, e.g. rack-a: { username: admin, password: … }";
  for (const { key, value } of source.namedEntries(source.root, "", expected) ?? []) {
    result.names.add(key);
    const path = childPath("", key);
    const entries = source.mapping(value, path, ENTRY_KEYS, " with username and password");
    if (entries === undefined) continue;
    const username = source.requiredText(entries, "username", path);
    const password = source.requiredText(entries, "password", path);
    if (username !== undefined && password !== undefined) {
      result.credentials.set(key, bmcCredential(username, password));
    }
  }
  result.problems = sortProblems(source.problems, [file]);
  return result;
}

const REDACTED = "[redacted]";

/** A credential whose password stays out of logs: JSON and inspection show `[redacted]`. */
function bmcCredential(username: string, password: string): BmcCredential {
  const shown = `BmcCredential { username: ${JSON.stringify(username)}, password: ${REDACTED} }`;
  return Object.defineProperties({ username, password }, {
    toJSON: { value: () => ({ username, password: REDACTED }) },
    [Symbol.for("Deno.customInspect")]: { value: () => shown },
    [Symbol.for("nodejs.util.inspect.custom")]: { value: () => shown },
  });
}
