/**
 * SQL fragments with bound values, composable into one statement.
 *
 * ```ts
 * const live = sql`SELECT 1 FROM sessions WHERE session_id = ${id}::uuid`;
 * const stmt = sql`WITH live AS (${live}) SELECT count(*) FROM live`;
 * render(stmt); // { text: "WITH live AS (SELECT 1 FROM sessions WHERE session_id = $1::uuid) ...", params: [id] }
 * ```
 *
 * Values become `$n` parameters (never spliced into the text); a nested
 * {@linkcode Sql} is inlined. This is how a workflow query is embedded into the
 * claim statement, so that a claim is one round trip.
 *
 * @module
 */

/** A fragment of SQL text with its bound values. */
export class Sql {
  constructor(readonly strings: readonly string[], readonly values: readonly unknown[]) {}
}

/** Tagged template: interpolated `Sql` fragments are inlined, anything else is bound as a parameter. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): Sql {
  return new Sql(strings, values);
}

/** Trusted constant text (never user input): identifiers, keywords. */
export function raw(text: string): Sql {
  return new Sql([text], []);
}

/** The empty fragment. */
export const empty: Sql = raw("");

/** Joins fragments with a constant separator. */
export function join(parts: readonly Sql[], separator: string): Sql {
  if (parts.length === 0) return empty;
  const strings = ["", ...Array(parts.length - 1).fill(separator), ""];
  return new Sql(strings, parts);
}

/** A statement ready for the driver: `$1..$n` placeholders and their values. */
export interface RenderedSql {
  text: string;
  params: unknown[];
}

// A cast's type name: lowercase words (`double precision`), maybe an array. The
// uppercase keyword that may follow (`::uuid AND ...`) ends it.
const CAST = /^::([a-z_]+(?: [a-z_]+)*(?:\[\])?)/;

// The cast after each placeholder, per strings array. Tagged templates reuse
// one strings array per call site, so this is computed once per site.
const castsOf = new WeakMap<readonly string[], string[]>();

function casts(strings: readonly string[]): string[] {
  let found = castsOf.get(strings);
  if (!found) {
    found = strings.map((s) => CAST.exec(s)?.[1] ?? "");
    castsOf.set(strings, found);
  }
  return found;
}

/**
 * Renders a fragment tree into text with numbered placeholders. A value used
 * several times with the same cast (`${id}::uuid` twice) becomes one
 * parameter: fewer to encode, bind and send on every call.
 */
export function render(fragment: Sql): RenderedSql {
  const params: unknown[] = [];
  const numbers = new Map<unknown, Map<string, number>>();
  const parts: string[] = [];
  const walk = (f: Sql) => {
    const { strings, values } = f;
    // Only a fragment with bound values needs its casts (raw() and join() make
    // a new strings array each call, which the cache would miss).
    let after: string[] | undefined;
    for (let i = 0; i < strings.length; i++) {
      parts.push(strings[i]);
      if (i >= values.length) continue;
      const v = values[i];
      if (v instanceof Sql) {
        walk(v);
        continue;
      }
      const cast = (after ??= casts(strings))[i + 1];
      let byCast = numbers.get(v);
      if (!byCast) numbers.set(v, byCast = new Map());
      let n = byCast.get(cast);
      if (n === undefined) {
        params.push(v);
        byCast.set(cast, n = params.length);
      }
      parts.push(`$${n}`);
    }
  };
  walk(fragment);
  return { text: parts.join(""), params };
}
