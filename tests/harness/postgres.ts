/**
 * A throwaway PostgreSQL server for tests and benchmarks.
 *
 * `startPostgres()` runs `initdb` in a fresh temporary directory (as the
 * `postgres` user when we are root, because initdb refuses root), starts the
 * server on a free loopback port with its socket inside that directory, and
 * removes everything on `stop()`. Nothing listens beyond 127.0.0.1.
 *
 * @module
 */
import postgres from "postgres";
import { freePort } from "./free_port.ts";
import { fileExists, type ServiceRequirement } from "./requirements.ts";

const DEFAULT_BIN_DIRS = ["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"];

/** Directory holding initdb/pg_ctl/postgres: `$PG_BIN`, else the Debian locations. */
export function postgresBinDir(): string | undefined {
  const candidates = [Deno.env.get("PG_BIN"), ...DEFAULT_BIN_DIRS].filter((d): d is string => !!d);
  return candidates.find((dir) => ["initdb", "pg_ctl", "postgres"].every((b) => fileExists(`${dir}/${b}`)));
}

/** The PostgreSQL server binaries, as a test requirement. */
export const postgresRequirement: ServiceRequirement = {
  name: "PostgreSQL (initdb, pg_ctl, postgres)",
  install: "apt-get install -y postgresql-15 (or set PG_BIN to a directory holding initdb and pg_ctl)",
  probe: () => postgresBinDir() ? undefined : `none of ${DEFAULT_BIN_DIRS.join(", ")} holds initdb and pg_ctl`,
};

/** Options for {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /** Durable writes. Tests turn it off for speed; the benchmark keeps it on. @default false */
  fsync?: boolean;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
}

/** A running throwaway PostgreSQL. */
export interface PostgresServer extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** Data directory (for logs and diagnostics). */
  readonly dir: string;
  /** A connection URL for `database` (default `postgres`), user `postgres`, no password. */
  url(database?: string): string;
  /** Runs SQL on the `postgres` database as superuser. */
  admin(text: string): Promise<postgres.RowList<postgres.Row[]>>;
  /** Stops the server (fast shutdown, so clients see their connections drop) and starts it again on the same port. */
  restart(options?: { downMs?: number }): Promise<void>;
  /** Stops the server (fast shutdown) and leaves it down until {@linkcode PostgresServer.resume}. */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port. */
  resume(): Promise<void>;
  /** Stops the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const asRoot = Deno.uid?.() === 0;

async function run(cmd: string, args: string[], options: { asPostgres?: boolean; allowFail?: boolean } = {}) {
  const [file, argv] = options.asPostgres && asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const out = await new Deno.Command(file, { args: argv, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success && !options.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${text}`);
  }
  return text;
}

/** Kept here too for the tests that import it from this module. */
export { freePort };

/**
 * Starts a throwaway PostgreSQL on a free loopback port.
 * @throws when the binaries are missing or the server does not start (the message holds its log).
 */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`PostgreSQL not found: ${postgresRequirement.probe()}`);
  const dir = await Deno.makeTempDir({ prefix: "drover-pg-" });
  if (asRoot) await run("chown", ["postgres:postgres", dir]);
  const data = `${dir}/data`;
  const log = `${dir}/server.log`;
  await run(`${bin}/initdb`, [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--no-sync",
    "--no-instructions",
  ], {
    asPostgres: true,
  });

  const settings: Record<string, string | number> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: dir,
    max_connections: 300,
    fsync: options.fsync ? "on" : "off",
    synchronous_commit: options.fsync ? "on" : "off",
    full_page_writes: options.fsync ? "on" : "off",
    ...options.settings,
  };
  const host = "127.0.0.1";
  let port = 0;

  const start = async () => {
    const opts = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(" ");
    const result = await run(`${bin}/pg_ctl`, ["-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start"], {
      asPostgres: true,
      allowFail: true,
    });
    if (!result.includes("server started")) {
      const serverLog = await Deno.readTextFile(log).catch(() => "");
      throw new Error(`PostgreSQL did not start on port ${port}:\n${result}\n${serverLog}`);
    }
  };
  // The port is free when picked but could be taken before the server binds it: try a few.
  for (let attempt = 1;; attempt++) {
    port = freePort();
    try {
      await start();
      break;
    } catch (error) {
      if (attempt >= 3) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        throw error;
      }
    }
  }

  let stopped = false;
  const admin = postgres({ host, port, user: "postgres", database: "postgres", max: 2, onnotice: () => {} });
  const server: PostgresServer = {
    host,
    get port() {
      return port;
    },
    dir,
    url: (database = "postgres") => `postgres://postgres@${host}:${port}/${database}`,
    admin: (text) => admin.unsafe(text),
    async halt() {
      await run(`${bin}/pg_ctl`, ["-D", data, "-m", "fast", "-w", "stop"], { asPostgres: true });
    },
    resume: () => start(),
    async restart({ downMs = 0 } = {}) {
      await run(`${bin}/pg_ctl`, ["-D", data, "-m", "fast", "-w", "stop"], { asPostgres: true });
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await admin.end({ timeout: 1 }).catch(() => {});
      await run(`${bin}/pg_ctl`, ["-D", data, "-m", "immediate", "-w", "stop"], { asPostgres: true, allowFail: true });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return this.stop();
    },
  };
  return server;
}

/**
 * Stops a server synchronously; for `unload` handlers, where nothing async runs.
 * @internal
 */
export function stopPostgresSync(dir: string): void {
  const bin = postgresBinDir();
  if (!bin) return;
  const args = ["-D", `${dir}/data`, "-m", "immediate", "-w", "stop"];
  const [file, argv] = asRoot
    ? ["runuser", ["-u", "postgres", "--", `${bin}/pg_ctl`, ...args]]
    : [`${bin}/pg_ctl`, args];
  new Deno.Command(file, { args: argv, stdout: "null", stderr: "null" }).outputSync();
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch { /* already gone */ }
}

/** Set by `tests/run.ts`: the admin URL of the run's shared server. */
export const SHARED_POSTGRES_ENV = "DROVER_TEST_POSTGRES_URL";

let shared: Promise<{ url: (database?: string) => string }> | undefined;

/**
 * The PostgreSQL shared by all tests of this run: the one `tests/run.ts`
 * started (its URL in `DROVER_TEST_POSTGRES_URL`), or else one started for
 * this process and stopped when it exits. Tests get fresh databases on it.
 */
export function sharedPostgres(): Promise<{ url: (database?: string) => string }> {
  shared ??= (async () => {
    const given = Deno.env.get(SHARED_POSTGRES_ENV);
    if (given) {
      const base = new URL(given);
      return {
        url: (database = "postgres") => {
          const u = new URL(base);
          u.pathname = `/${database}`;
          return u.toString();
        },
      };
    }
    const server = await startPostgres();
    globalThis.addEventListener("unload", () => stopPostgresSync(server.dir));
    return { url: server.url };
  })();
  return shared;
}
