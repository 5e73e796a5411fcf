/**
 * The yardstick everyone knows: pgbench's built-in TPC-B-like script
 * (`pgbench -i`, then `pgbench -c N -j N -T s`), on a database of its own on
 * the bench's PostgreSQL, at the anchor's client counts (issue 9). Unlike
 * the anchor it does not do Drover's kind of work: it shows where this
 * server stands on the usual benchmark, so figures from other machines can
 * be set beside ours.
 *
 * @module
 */
import { readCpuTimes } from "./cpu_time.ts";
import { median } from "./percentile.ts";

/** One pgbench run at one client count. */
export interface TpcbRun {
  clients: number;
  /** pgbench's `tps = ... (without initial connection time)`. */
  transactionsPerSecond: number;
  transactions: number;
  /** Transactions pgbench counted as failed (none expected at READ COMMITTED). */
  failed: number;
  latencyMs: number;
  /** CPU per transaction of pgbench and of the server, when the postmaster was given. */
  cpu?: { clientUsPerTransaction: number; serverUsPerTransaction: number };
}

/** Every run, and the medians per client count. */
export interface TpcbResult {
  /** `pgbench -i -s` scale: as many branches as the largest client count, so that clients do not queue on one row. */
  scale: number;
  seconds: number;
  /** One entry per run, each with one result per client count. */
  runs: TpcbRun[][];
  median: TpcbRun[];
}

/** Options for {@linkcode measureTpcb}. */
export interface TpcbOptions {
  host: string;
  port: number;
  user: string;
  /** Created, initialised and dropped here. */
  database: string;
  clients: readonly number[];
  seconds: number;
  runs: number;
  /** Holding the server's pgbench (first on PATH otherwise). */
  binDir?: string;
  /** The server's postmaster, to measure CPU per transaction. */
  postmaster?: number;
  /** Called after each run with its results. */
  onRun?: (results: TpcbRun[], index: number) => void;
}

function pgbenchPath(binDir: string | undefined): string {
  return binDir ? `${binDir}/pgbench` : "pgbench";
}

async function pgbench(o: TpcbOptions, args: string[]): Promise<string> {
  const out = await new Deno.Command(pgbenchPath(o.binDir), {
    args: ["-h", o.host, "-p", String(o.port), "-U", o.user, ...args, o.database],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`pgbench ${args.join(" ")} failed (exit ${out.code}):\n${text}`);
  return text;
}

function field(text: string, pattern: RegExp, what: string): number {
  const m = pattern.exec(text);
  if (!m) throw new Error(`pgbench's output has no ${what}:\n${text}`);
  return Number(m[1]);
}

/**
 * Reads the figures of one `pgbench -T` run from its output.
 * @throws {Error} a figure is missing (the message holds the output).
 */
export function parsePgbenchOutput(clients: number, text: string): TpcbRun {
  return {
    clients,
    transactionsPerSecond: field(text, /^tps = ([\d.]+) \(without initial connection time\)/m, "tps"),
    transactions: field(text, /^number of transactions actually processed: (\d+)/m, "transaction count"),
    failed: /^number of failed transactions: (\d+)/m.test(text)
      ? field(text, /^number of failed transactions: (\d+)/m, "failed transactions")
      : 0,
    latencyMs: field(text, /^latency average = ([\d.]+) ms/m, "average latency"),
  };
}

/** Runs SQL on another database of the server (as superuser), returning its rows. */
type AdminSql = (sql: string) => Promise<readonly Record<string, unknown>[]>;

/**
 * Waits (at most 2 s) until no backend serves the database: a backend's CPU
 * moves from its own /proc entry to the postmaster's reaped children when it
 * exits, and a reading taken in between would miss it.
 */
async function backendsGone(admin: AdminSql, database: string): Promise<void> {
  for (let waited = 0; waited < 2000; waited += 50) {
    const [row] = await admin(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = '${database}'`);
    if (row?.n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await new Promise((resolve) => setTimeout(resolve, 50)); // and for the postmaster to reap them
}

async function runOnce(o: TpcbOptions, admin: AdminSql, clients: number): Promise<TpcbRun> {
  const before = readCpuTimes(o.postmaster);
  // pgbench's defaults otherwise: the built-in tpcb-like script, simple query protocol, READ COMMITTED, and a
  // vacuum of the small tables (and truncation of pgbench_history) before the run, counted in the CPU below.
  const text = await pgbench(o, ["-c", String(clients), "-j", String(clients), "-T", String(o.seconds)]);
  if (o.postmaster !== undefined) await backendsGone(admin, o.database);
  const after = readCpuTimes(o.postmaster);
  const run = parsePgbenchOutput(clients, text);
  if (o.postmaster === undefined || run.transactions === 0) return run;
  const per = (ms: number) => (ms * 1000) / run.transactions;
  return {
    ...run,
    cpu: {
      clientUsPerTransaction: per(after.childrenMs - before.childrenMs),
      serverUsPerTransaction: per(after.serverMs - before.serverMs),
    },
  };
}

function medianOf(runs: TpcbRun[][], clients: number): TpcbRun {
  const of = runs.map((run) => run.find((r) => r.clients === clients)).filter((r): r is TpcbRun => !!r);
  const cpu = of.map((r) => r.cpu).filter((c) => c !== undefined);
  return {
    clients,
    transactionsPerSecond: median(of.map((r) => r.transactionsPerSecond)),
    transactions: median(of.map((r) => r.transactions)),
    failed: median(of.map((r) => r.failed)),
    latencyMs: median(of.map((r) => r.latencyMs)),
    ...(cpu.length > 0
      ? {
        cpu: {
          clientUsPerTransaction: median(cpu.map((c) => c.clientUsPerTransaction)),
          serverUsPerTransaction: median(cpu.map((c) => c.serverUsPerTransaction)),
        },
      }
      : {}),
  };
}

/**
 * Creates the database, initialises it (`pgbench -i -s <largest client
 * count>`), runs every client count `runs` times, and drops it.
 * @throws {Error} pgbench failed (the message holds its output).
 */
export async function measureTpcb(o: TpcbOptions, admin: AdminSql): Promise<TpcbResult> {
  // pgbench's documentation: a scale below the client count mostly measures contention on the branch rows.
  const scale = Math.max(...o.clients);
  await admin(`DROP DATABASE IF EXISTS ${o.database}`);
  await admin(`CREATE DATABASE ${o.database}`);
  try {
    await pgbench(o, ["-i", "-s", String(scale), "-q"]);
    if (o.postmaster !== undefined) await backendsGone(admin, o.database);
    const runs: TpcbRun[][] = [];
    for (let i = 0; i < o.runs; i++) {
      const results: TpcbRun[] = [];
      for (const clients of o.clients) results.push(await runOnce(o, admin, clients));
      runs.push(results);
      o.onRun?.(results, i);
    }
    return { scale, seconds: o.seconds, runs, median: o.clients.map((c) => medianOf(runs, c)) };
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${o.database} WITH (FORCE)`).catch(() => {});
  }
}
