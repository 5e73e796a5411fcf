/**
 * The BMDB driver for embedded PGlite (PostgreSQL compiled to WebAssembly),
 * in a data directory or in memory.
 *
 * PGlite is one backend: one statement at a time. A mutex serialises callers,
 * and an open transaction holds it from BEGIN to COMMIT so no other caller's
 * statement lands inside it. Statements are prepared once by name at the
 * protocol level and then only bound and executed: PGlite's `query()` parses
 * and plans every call.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { parse, PGlite, protocol } from "@electric-sql/pglite";
import type { BeginOptions, ChangeHandlers, Driver, DriverTransaction, Listening, Row } from "./driver.ts";
import { DatabaseError } from "./errors.ts";
import { INDEX_PROBES_ONLY } from "./planner.ts";
import { writtenTables } from "./written_tables.ts";

/** Options for {@linkcode openPgliteDriver}. */
export interface PgliteDriverOptions {
  /** Directory for the database files; created if missing. Omit for an in-memory database. */
  dataDir?: string;
}

type Serializer = (value: unknown) => string;
interface Prepared {
  name: string;
  paramTypes: number[];
}

/** A FIFO lock: `run(fn)` waits for every earlier holder. */
class Mutex {
  #tail: Promise<unknown> = Promise.resolve();
  async acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => held);
    await previous;
    return release;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

function toDatabaseError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const e = error as { code?: unknown; message?: unknown; detail?: unknown };
  const code = typeof e?.code === "string" ? e.code : "UNKNOWN";
  const message = typeof e?.message === "string" ? e.message : String(error);
  const detail = typeof e?.detail === "string" && e.detail ? ` (${e.detail})` : "";
  return new DatabaseError(message + detail, code, { cause: error });
}

/** Opens (and on first use initialises) an embedded PGlite database. */
export async function openPgliteDriver(options: PgliteDriverOptions = {}): Promise<Driver> {
  if (options.dataDir) await Deno.mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir ?? "memory://");
  return await pgliteDriver(db, options.dataDir ? `PGlite in ${options.dataDir}` : "PGlite in memory");
}

/**
 * Wraps an open PGlite instance (tests clone a migrated template this way).
 * The driver owns the instance from here on: `close()` closes it.
 */
export async function pgliteDriver(db: PGlite, target: string): Promise<Driver> {
  // One backend serves everything, so its session settings are the work
  // pool's (see planner.ts); statistics queries only lose sequential scans.
  await db.exec(Object.entries(INDEX_PROBES_ONLY).map(([k, v]) => `SET ${k} = ${v};`).join("\n"));
  // The change feed learns of changes from here, not from triggers (see written_tables.ts).
  const changeListeners = new Set<ChangeHandlers>();
  const reportChanges = (tables: Iterable<string>) => {
    for (const table of tables) {
      for (const listener of changeListeners) {
        try {
          listener.onNotify(table);
        } catch {
          // The listener's problem: the statement did commit.
        }
      }
    }
  };
  const mutex = new Mutex();
  const prepared = new Map<string, Prepared>();
  let statementCount = 0;
  const serializers = (db as unknown as { serializers: Record<number, Serializer> }).serializers;
  const parsers = (db as unknown as { parsers: Parameters<typeof parse.parseResults>[1] }).parsers;
  const S = protocol.serialize;

  async function prepare(text: string): Promise<Prepared> {
    const cached = prepared.get(text);
    if (cached) return cached;
    const name = `drover_${++statementCount}`;
    const messages = await db.execProtocolStream(
      concat([S.parse({ name, text, types: [] }), S.describe({ type: "S", name }), S.sync()]),
      { syncToFs: false },
    );
    const description = messages.find((m) => m.name === "parameterDescription") as
      | { dataTypeIDs?: number[] }
      | undefined;
    const entry = { name, paramTypes: description?.dataTypeIDs ?? [] };
    prepared.set(text, entry);
    return entry;
  }

  // Callers hold the mutex.
  async function run(text: string, params: readonly unknown[]): Promise<Row[]> {
    // PGlite answers through promises alone, never through I/O, so a busy
    // caller would starve every timer in the process, heartbeats included.
    // Yield to the event loop first (about 4 µs; setTimeout(0) costs 2 ms).
    await new Promise((resolve) => setImmediate(resolve));
    try {
      const statement = await prepare(text);
      const values = params.map((value, i) => {
        if (value === null || value === undefined) return null;
        const serialize = serializers[statement.paramTypes[i]];
        return serialize ? serialize(value) : String(value);
      });
      const messages = await db.execProtocolStream(
        concat([S.bind({ statement: statement.name, values }), S.describe({ type: "P" }), S.execute({}), S.sync()]),
      );
      return (parse.parseResults(messages, parsers)[0]?.rows ?? []) as Row[];
    } catch (error) {
      throw toDatabaseError(error);
    }
  }

  async function exec(script: string): Promise<Row[]> {
    try {
      const results = await db.exec(script);
      return (results.at(-1)?.rows ?? []) as Row[];
    } catch (error) {
      throw toDatabaseError(error);
    }
  }

  return {
    kind: "pglite",
    dialect: "postgresql",
    target,
    async query(text, params) {
      const rows = await mutex.run(() => run(text, params));
      if (changeListeners.size > 0) reportChanges(writtenTables(text));
      return rows;
    },
    async begin(opts: BeginOptions): Promise<DriverTransaction> {
      const release = await mutex.acquire();
      let open = true;
      // The feed's tables this transaction wrote, reported once it commits.
      const written = new Set<string>();
      const noteWrites = (text: string) => {
        if (changeListeners.size === 0) return;
        for (const table of writtenTables(text)) written.add(table);
      };
      const end = async (command: "COMMIT" | "ROLLBACK") => {
        if (!open) return;
        open = false;
        try {
          const results = await db.exec(command);
          if (command === "COMMIT" && (results.at(-1) as { command?: string } | undefined)?.command === "ROLLBACK") {
            throw new DatabaseError("The transaction was rolled back by the database", "25P02");
          }
        } catch (error) {
          if (command === "COMMIT") throw toDatabaseError(error);
          return;
        } finally {
          release();
        }
        if (command === "COMMIT") reportChanges(written);
      };
      try {
        await exec(`BEGIN ISOLATION LEVEL ${opts.isolation.toUpperCase()}${opts.readOnly ? " READ ONLY" : ""}`);
      } catch (error) {
        open = false;
        release();
        throw error;
      }
      // Statements of a transaction run in the order they were issued, like a pipeline.
      let last: Promise<unknown> = Promise.resolve();
      const inOrder = <T>(fn: () => Promise<T>): Promise<T> => {
        const next = last.then(fn, fn);
        last = next.catch(() => {});
        return next;
      };
      return {
        query: (text, params) => {
          noteWrites(text);
          return inOrder(() => run(text, params));
        },
        exec: (script) => {
          noteWrites(script);
          return inOrder(async () => void await exec(script));
        },
        commit: () => inOrder(() => end("COMMIT")),
        rollback: () => inOrder(() => end("ROLLBACK")),
      };
    },
    listenForChanges(handlers: ChangeHandlers): Promise<Listening> {
      // In-process: every statement passes through here, so nothing is
      // missed and nothing needs re-reading later; onListen runs once.
      const listener = { ...handlers };
      changeListeners.add(listener);
      handlers.onListen();
      return Promise.resolve({
        close() {
          changeListeners.delete(listener);
          return Promise.resolve();
        },
      });
    },
    async close() {
      await mutex.run(() => db.close());
    },
  };
}
