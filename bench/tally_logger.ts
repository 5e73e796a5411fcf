/**
 * A logger for a measured run: counts warnings and errors and keeps the
 * first few lines, so a run can say it went cleanly (or what went wrong)
 * without printing thousands of lines while it is timed.
 *
 * @module
 */
import type { LogFields, Logger } from "../bmdb/mod.ts";

/** A logger that tallies what it is given. */
export interface TallyLogger extends Logger {
  readonly warnings: number;
  readonly errors: number;
  /** The first warnings and errors, one line each. */
  readonly first: readonly string[];
}

/** A {@linkcode TallyLogger} keeping the first `keep` warnings and errors. */
export function tallyLogger(keep = 5): TallyLogger {
  const first: string[] = [];
  let warnings = 0;
  let errors = 0;
  const note = (level: string, message: string, fields?: LogFields) => {
    if (first.length >= keep) return;
    const rest = Object.entries(fields ?? {}).map(([k, v]) => `${k}=${v instanceof Error ? v.message : String(v)}`);
    first.push([`${level}: ${message}`, ...rest].join(" ").slice(0, 500));
  };
  return {
    debug() {},
    info() {},
    warn(message, fields) {
      warnings++;
      note("warn", message, fields);
    },
    error(message, fields) {
      errors++;
      note("error", message, fields);
    },
    get warnings() {
      return warnings;
    },
    get errors() {
      return errors;
    },
    first,
  };
}
