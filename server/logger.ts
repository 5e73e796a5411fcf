/**
 * The service's structured logger: one JSON object per line
 * (`DROVER_LOG_FORMAT=json`) or a readable line (`text`), on stderr, from
 * `level` up. Fields carry the facts (machine id, process, session, error).
 *
 * @module
 */
import type { LogFields, Logger } from "../bmdb/mod.ts";

const LEVELS = ["debug", "info", "warn", "error"] as const;
type Level = typeof LEVELS[number];

function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const causes: string[] = [value.message];
    for (let e: unknown = value.cause; e instanceof Error && causes.length < 4; e = e.cause) causes.push(e.message);
    return causes.join(": ");
  }
  if (value instanceof Date) return value.toISOString();
  return value;
}

export function createLogger(
  { format, level }: { format: "text" | "json"; level: Level },
  write: (line: string) => void = (line) => console.error(line),
): Logger {
  const from = LEVELS.indexOf(level);
  const emit = (at: Level) => (message: string, fields: LogFields = {}) => {
    if (LEVELS.indexOf(at) < from) return;
    const time = new Date().toISOString();
    if (format === "json") {
      const entry: Record<string, unknown> = { time, level: at, msg: message };
      for (const [k, v] of Object.entries(fields)) entry[k] = plain(v);
      write(JSON.stringify(entry));
      return;
    }
    const rest = Object.entries(fields).map(([k, v]) => {
      const text = String(plain(v));
      return `${k}=${/[\s"=]/.test(text) ? JSON.stringify(text) : text}`;
    });
    write([time, at.toUpperCase().padEnd(5), message, ...rest].join(" "));
  };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}
