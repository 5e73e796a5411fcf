/**
 * A throwaway PostgreSQL primary with one streaming standby, for failover
 * tests: the primary from {@linkcode startPostgres}, the standby cloned from
 * it with `pg_basebackup -R` and started on its own free loopback port.
 *
 * ```ts
 * await using pair = await startReplicatedPostgres({ synchronous: true });
 * await pair.primary.admin("CREATE DATABASE drover");
 * const url = pair.url("drover"); // postgres://postgres@127.0.0.1:P1,127.0.0.1:P2/drover?target_session_attrs=read-write
 * await pair.killPrimary();     // SIGKILL of the postmaster: a crash
 * await pair.promoteStandby();  // the standby takes writes from here on
 * ```
 *
 * Like the single server, both run with fsync off. That still makes "committed"
 * mean what it means on a real pair for the faults staged here: a SIGKILL ends
 * processes, not the machine, so whatever either server wrote to the OS page
 * cache survives. Synchronous mode turns `synchronous_commit` on, so a commit
 * returns only once the standby has received and written its WAL.
 *
 * @module
 */
import postgres from "postgres";
import { freePort } from "./free_port.ts";
import {
  postgresBinDir,
  postgresRequirement,
  type PostgresServer,
  startPostgres,
  stopPostgresSync,
} from "./postgres.ts";
import { fileExists, type ServiceRequirement } from "./requirements.ts";
import { waitFor } from "./wait.ts";

/** The PostgreSQL server binaries and pg_basebackup, as a test requirement. */
export const replicationRequirement: ServiceRequirement = {
  name: "PostgreSQL with pg_basebackup",
  install: postgresRequirement.install,
  probe: () => {
    const missing = postgresRequirement.probe();
    if (missing) return missing;
    const bin = postgresBinDir();
    return fileExists(`${bin}/pg_basebackup`) ? undefined : `${bin} holds no pg_basebackup`;
  },
};

/** The standby's `cluster_name`, which it reports to the primary as its `application_name`. */
const STANDBY_NAME = "drover_standby";

/** Options for {@linkcode startReplicatedPostgres}. */
export interface ReplicatedPostgresOptions {
  /**
   * Synchronous replication: the primary's `synchronous_standby_names` names
   * the standby and `synchronous_commit` is on, so no commit is acknowledged
   * before the standby has it. Otherwise asynchronous (and the primary's
   * `synchronous_commit` off, as in every other test): the last commits can
   * be lost in a failover. @default false
   */
  synchronous?: boolean;
}

/** The standby of a {@linkcode ReplicatedPostgres}. */
export interface StandbyServer {
  readonly host: string;
  readonly port: number;
  /** Its directory: `data/` and `server.log`. */
  readonly dir: string;
  /** A connection URL for `database` on the standby alone. */
  url(database?: string): string;
  /** Runs SQL on the standby's `postgres` database (read-only until promoted). */
  admin(text: string): Promise<postgres.RowList<postgres.Row[]>>;
}

/** A running primary and streaming standby. */
export interface ReplicatedPostgres extends AsyncDisposable {
  readonly primary: PostgresServer;
  readonly standby: StandbyServer;
  readonly synchronous: boolean;
  /**
   * A URL listing both servers, primary first, with
   * `target_session_attrs=read-write`: what a client that must follow a
   * failover is given.
   */
  url(database?: string): string;
  /**
   * Stops the standby's WAL receiver (its `primary_conninfo` cleared): from
   * here it falls behind. Asynchronously, the primary goes on committing what
   * the standby will never have; synchronously, every commit on the primary
   * waits. What a network partition between them looks like.
   */
  detachStandby(): Promise<void>;
  /**
   * Resolves once the standby has replayed all the WAL it holds: its startup
   * process waits for more and the replay position stands still. (Its receive
   * position can stay ahead for good: the stream may end inside a record.)
   */
  standbyReplayed(): Promise<void>;
  /** Commits on the primary now waiting for the (detached) synchronous standby. */
  commitsWaitingForStandby(): Promise<number>;
  /**
   * Crashes the primary: SIGKILL to its postmaster (the pid from
   * `postmaster.pid`). Resolves once the postmaster is gone and its port
   * refuses connections; its backends notice on their own and exit. Returns
   * the `Date` of the kill.
   */
  killPrimary(): Promise<Date>;
  /**
   * Promotes the standby (`pg_ctl promote -w`) and resolves once it takes
   * writes. Whatever WAL it received is replayed first.
   */
  promoteStandby(): Promise<void>;
  /** Stops both servers and removes their directories. Idempotent. */
  stop(): Promise<void>;
}

const asRoot = Deno.uid?.() === 0;

/** Runs a PostgreSQL binary (as the `postgres` user when we are root: the servers' files are theirs). */
async function run(cmd: string, args: string[], options: { allowFail?: boolean } = {}): Promise<string> {
  const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const out = await new Deno.Command(file, { args: argv, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success && !options.allowFail) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code}):\n${text}`);
  }
  return text;
}

/** Whether anything accepts TCP connections on 127.0.0.1:`port`. */
async function accepting(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** The `postgres` user's uid (or gid), from /etc/passwd. */
function postgresUid(field: "uid" | "gid" = "uid"): number {
  const line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("no postgres user in /etc/passwd (the PostgreSQL package creates it)");
  return Number(line.split(":")[field === "uid" ? 2 : 3]);
}

function processAlive(pid: number): boolean {
  try {
    return !Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.startsWith("Z");
  } catch {
    return false;
  }
}

/**
 * Starts a primary and a standby streaming from it (synchronously if asked),
 * and resolves once the standby streams (and, synchronous, is the primary's
 * synchronous standby).
 * @throws when the binaries are missing or either server does not start (the message holds its log).
 */
export async function startReplicatedPostgres(options: ReplicatedPostgresOptions = {}): Promise<ReplicatedPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`PostgreSQL not found: ${postgresRequirement.probe()}`);
  const synchronous = options.synchronous ?? false;
  // Settings a hot standby needs at least as high as its primary's (max_connections above all).
  const shared = { max_connections: 300, max_wal_senders: 10, wal_level: "replica", hot_standby: "on" };
  const primary = await startPostgres({
    settings: { ...shared, wal_keep_size: "256MB", ...(synchronous ? { synchronous_commit: "on" } : {}) },
  });
  let standbyDir: string | undefined;
  let standbyClient: postgres.Sql | undefined;
  let stopped = false;
  const standbyData = () => `${standbyDir}/data`;
  const stopStandby = async () => {
    await standbyClient?.end({ timeout: 1 }).catch(() => {});
    if (standbyDir) {
      await run(`${bin}/pg_ctl`, ["-D", standbyData(), "-m", "immediate", "-w", "stop"], { allowFail: true });
      await Deno.remove(standbyDir, { recursive: true }).catch(() => {});
    }
  };
  // A test that dies of an uncaught error skips its `await using`: stop both servers on the way out then.
  const onUnload = () => {
    if (standbyDir) stopPostgresSync(standbyDir);
    stopPostgresSync(primary.dir);
  };
  globalThis.addEventListener("unload", onUnload);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    globalThis.removeEventListener("unload", onUnload);
    await Promise.all([stopStandby(), primary.stop()]);
  };

  try {
    standbyDir = await Deno.makeTempDir({ prefix: "drover-pg-standby-" });
    if (asRoot) await Deno.chown(standbyDir, postgresUid(), postgresUid("gid"));
    const dir = standbyDir;
    await run(`${bin}/pg_basebackup`, [
      "-h",
      primary.host,
      "-p",
      String(primary.port),
      "-U",
      "postgres",
      "-D",
      standbyData(),
      "-R", // standby.signal and primary_conninfo
      "-X",
      "stream",
      "-c",
      "fast",
      "--no-sync",
    ]);
    const settings: Record<string, string | number> = {
      ...shared,
      listen_addresses: "127.0.0.1",
      unix_socket_directories: dir,
      cluster_name: STANDBY_NAME,
      fsync: "off",
      full_page_writes: "off",
    };
    let port = 0;
    for (let attempt = 1;; attempt++) {
      port = freePort();
      const opts = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(" ");
      const result = await run(
        `${bin}/pg_ctl`,
        ["-D", standbyData(), "-l", `${dir}/server.log`, "-o", opts, "-w", "-t", "60", "start"],
        { allowFail: true },
      );
      if (result.includes("server started")) break;
      if (attempt >= 3) {
        const log = await Deno.readTextFile(`${dir}/server.log`).catch(() => "");
        throw new Error(`the standby did not start on port ${port}:\n${result}\n${log}`);
      }
    }
    const client = standbyClient = postgres({
      host: "127.0.0.1",
      port,
      user: "postgres",
      database: "postgres",
      max: 2,
      onnotice: () => {},
    });
    const standby: StandbyServer = {
      host: "127.0.0.1",
      port,
      dir,
      url: (database = "postgres") => `postgres://postgres@127.0.0.1:${port}/${database}`,
      admin: (text) => client.unsafe(text),
    };

    await waitFor(async () => {
      const [row] = await primary.admin(
        `SELECT count(*)::int AS n FROM pg_stat_replication WHERE application_name = '${STANDBY_NAME}' AND state = 'streaming'`,
      );
      return row.n === 1;
    }, { timeoutMs: 30_000, intervalMs: 50, what: "the standby streaming from the primary" });
    if (synchronous) {
      // After the base backup, so the standby (once promoted) does not wait for a standby of its own.
      await primary.admin(`ALTER SYSTEM SET synchronous_standby_names = '"${STANDBY_NAME}"'`);
      await primary.admin("SELECT pg_reload_conf()");
      await waitFor(async () => {
        const [row] = await primary.admin(
          `SELECT sync_state FROM pg_stat_replication WHERE application_name = '${STANDBY_NAME}'`,
        );
        return row?.sync_state === "sync";
      }, { timeoutMs: 30_000, intervalMs: 50, what: "the standby to become the synchronous standby" });
      const [setting] = await primary.admin("SHOW synchronous_commit");
      if (setting.synchronous_commit !== "on") {
        throw new Error(`the primary's synchronous_commit is ${setting.synchronous_commit}, not on`);
      }
    }

    const pair: ReplicatedPostgres = {
      primary,
      standby,
      synchronous,
      url: (database = "postgres") =>
        `postgres://postgres@${primary.host}:${primary.port},${standby.host}:${standby.port}/${database}` +
        "?target_session_attrs=read-write",
      async detachStandby() {
        await client.unsafe("ALTER SYSTEM SET primary_conninfo = ''");
        await client.unsafe("SELECT pg_reload_conf()");
        await waitFor(async () => {
          const [row] = await client.unsafe("SELECT count(*)::int AS n FROM pg_stat_wal_receiver");
          return row.n === 0;
        }, { timeoutMs: 10_000, intervalMs: 20, what: "the standby's WAL receiver to stop" });
      },
      async standbyReplayed() {
        let last: string | undefined;
        await waitFor(async () => {
          const [row] = await client.unsafe(`SELECT pg_last_wal_replay_lsn()::text AS lsn,
              (SELECT wait_event FROM pg_stat_activity WHERE backend_type = 'startup') AS waiting`);
          const idle = row.waiting === "RecoveryRetrieveRetryInterval" || row.waiting === "RecoveryWalStream";
          const still = row.lsn === last;
          last = row.lsn;
          return idle && still;
        }, { timeoutMs: 10_000, intervalMs: 100, what: "the standby to replay all the WAL it holds" });
      },
      async commitsWaitingForStandby() {
        const [row] = await primary.admin(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
        );
        return row.n;
      },
      async killPrimary() {
        const pidFile = await Deno.readTextFile(`${primary.dir}/data/postmaster.pid`);
        const pid = Number(pidFile.split("\n")[0]);
        if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no postmaster pid in postmaster.pid: ${pidFile}`);
        Deno.kill(pid, "SIGKILL");
        const killedAt = new Date();
        await waitFor(async () => !processAlive(pid) && !(await accepting(primary.port)), {
          timeoutMs: 10_000,
          intervalMs: 10,
          what: `the primary's postmaster (pid ${pid}) gone`,
        });
        return killedAt;
      },
      async promoteStandby() {
        await run(`${bin}/pg_ctl`, ["-D", standbyData(), "-w", "-t", "60", "promote"]);
        await waitFor(async () => {
          const [row] = await client.unsafe("SELECT pg_is_in_recovery() AS r");
          return row.r === false;
        }, { timeoutMs: 30_000, intervalMs: 20, what: "the promoted standby to leave recovery" });
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
    return pair;
  } catch (error) {
    await stop();
    throw error;
  }
}
