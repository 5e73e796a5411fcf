/**
 * Where the BMDB reports what it does. The service passes its structured
 * logger; without one, warnings and errors go to stderr.
 *
 * @module
 */

/** Structured fields: machine, process and session ids, errors. */
export type LogFields = Record<string, unknown>;

/** A structured logger. Messages are short and stable; facts go in `fields`. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

function format(level: string, message: string, fields?: LogFields): string {
  const rest = Object.entries(fields ?? {}).map(([k, v]) => `${k}=${v instanceof Error ? v.message : String(v)}`);
  return [`bmdb ${level}: ${message}`, ...rest].join(" ");
}

/** Warnings and errors to stderr; nothing else. */
export const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn: (message, fields) => console.error(format("warn", message, fields)),
  error: (message, fields) => console.error(format("error", message, fields)),
};
