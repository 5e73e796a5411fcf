/**
 * Which tables behind the change feed a statement writes: how PGlite reports
 * changes. PGlite is one backend in this process and every statement passes
 * through its driver, so the driver reads the statement instead of having
 * triggers send NOTIFYs, which cost the embedded database about 10% of its
 * claim-and-finish throughput (paired bench runs: x0.88-0.90).
 *
 * ONCHANGE(migrations/0003_change_feed.up.sql): the same tables and events
 * as its triggers. A spurious table (a keyword in a string literal, a
 * transaction rolled back) costs one extra re-read; a missed one would leave
 * a value stale, so a DELETE of machines also reports the tables its
 * cascades reach.
 *
 * @module
 */

const WRITE = /\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?"?([a-z_][a-z0-9_]*)"?/gi;

/** What a write of each kind to a table reports; heartbeats (UPDATE of sessions) report nothing. */
const REPORTS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  work_slot: { INSERT: ["work_slot"], UPDATE: ["work_slot"], DELETE: ["work_slot"], TRUNCATE: ["work_slot"] },
  work_backoff: {
    INSERT: ["work_backoff"],
    UPDATE: ["work_backoff"],
    DELETE: ["work_backoff"],
    TRUNCATE: ["work_backoff"],
  },
  machines: {
    INSERT: ["machines"],
    DELETE: ["machines", "work_slot", "work_backoff"],
    TRUNCATE: ["machines", "work_slot", "work_backoff"],
  },
  sessions: { INSERT: ["sessions"], DELETE: ["sessions"], TRUNCATE: ["sessions"] },
};

const NONE: readonly string[] = [];
const MAX_CACHED = 10_000;
// The BMDB sends a small set of statement texts over and over.
const cache = new Map<string, readonly string[]>();

/** The feed's tables that `text` (one statement or a script) writes, each once. */
export function writtenTables(text: string): readonly string[] {
  let tables = cache.get(text);
  if (tables) return tables;
  const found = new Set<string>();
  for (const [, verb, table] of text.matchAll(WRITE)) {
    const kind = verb.split(/\s/, 1)[0].toUpperCase();
    for (const t of REPORTS[table.toLowerCase()]?.[kind] ?? NONE) found.add(t);
  }
  tables = found.size ? [...found] : NONE;
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(text, tables);
  return tables;
}
