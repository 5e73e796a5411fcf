/**
 * systemd's unit and environment files read the way systemd reads the parts
 * deploy/ uses: `[Section]` headers, `Key=value` lines (a key may repeat),
 * `#` and `;` comments; and time spans such as `30s` or `1min 30s`.
 *
 * @module
 */

/** A unit file: section → key → every value given, in order. */
export type UnitFile = Map<string, Map<string, string[]>>;

/** Reads a unit file's text. */
export function parseUnitFile(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = line.match(/^\[(.+)\]$/);
    if (header) {
      section = unit.get(header[1]) ?? new Map();
      unit.set(header[1], section);
      continue;
    }
    const eq = line.indexOf("=");
    if (!section || eq < 0) throw new Error(`Cannot read the unit file: line ${index + 1} is not Key=value: ${raw}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...section.get(key) ?? [], line.slice(eq + 1).trim()]);
  }
  return unit;
}

/** The last value of `key` in `section` (the one systemd uses for a single-valued setting). */
export function unitValue(unit: UnitFile, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** An environment file's assignments (`NAME=value` lines; comments and blank lines skipped). */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const match = line.match(/^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/);
    if (!match) throw new Error(`Cannot read the environment file: line ${index + 1} is not NAME=value: ${raw}`);
    env[match[1]] = match[2];
  }
  return env;
}

const SPAN_UNITS: Record<string, number> = { ms: 0.001, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };

/** A systemd time span in seconds (`30s`, `1min 30s`, or a bare number of seconds). */
export function timeSpanSeconds(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  let total = 0;
  let rest = text.trim();
  while (rest !== "") {
    const part = rest.match(/^(\d+(?:\.\d+)?)\s*([a-z]+)\s*/);
    if (!part || !(part[2] in SPAN_UNITS)) throw new Error(`Cannot read the time span "${text}"`);
    total += Number(part[1]) * SPAN_UNITS[part[2]];
    rest = rest.slice(part[0].length);
  }
  return total;
}
