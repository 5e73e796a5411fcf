/**
 * The yardstick: `bench-anchor/run.sh` (pgbench doing the same kind of work
 * unit in C, one round trip per SERIALIZABLE transaction), run on the same
 * server right before Drover's own runs. DESIGN.md's targets are ratios to it.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { readCpuTimes } from "./cpu_time.ts";

/** Where the anchor's script and SQL came from. */
export interface AnchorSource {
  /** Relative to the repository (results are committed: no path of the machine they ran on). */
  dir: string;
  /** `shared`: ../shared/bench-anchor next to the repository; `vendored`: bench/anchor/. */
  origin: "shared" | "vendored";
  /** With `shared`: files of the vendored copy that differ from it (empty when identical). */
  vendoredDiffers: string[];
}

/** One line of run.sh's output. */
export interface AnchorResult {
  clients: number;
  unitsPerSecond: number;
  /** pgbench's serialization retries during the run. */
  retries: number;
  /** pgbench's average latency of one script run (claim + finish). */
  latencyMs: number;
  /**
   * CPU per unit of pgbench (client) and of the server, when measured: see {@linkcode calibrateAnchor}.
   */
  cpu?: { clientUsPerUnit: number; serverUsPerUnit: number };
}

const SHARED = "../shared/bench-anchor/";
const VENDORED = "bench/anchor/";
/** A directory relative to the repository, as a path here. */
function here(dir: string): string {
  return fileURLToPath(new URL(`../${dir}`, import.meta.url));
}
const SHARED_DIR = here(SHARED);
const VENDORED_DIR = here(VENDORED);
const FILES = ["run.sh", "uow-schema.sql", "uow-slot-schema.sql", "uow-fn-schema.sql", "uow-fn.pgbench", "README.md"];

async function readOrUndefined(path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/** ../shared/bench-anchor when it exists, else the vendored copy in bench/anchor/. */
export async function findAnchor(): Promise<AnchorSource> {
  if (await readOrUndefined(`${SHARED_DIR}run.sh`)) {
    const vendoredDiffers: string[] = [];
    for (const file of FILES) {
      const [shared, vendored] = await Promise.all([
        readOrUndefined(`${SHARED_DIR}${file}`),
        readOrUndefined(`${VENDORED_DIR}${file}`),
      ]);
      if (!sameBytes(shared, vendored)) vendoredDiffers.push(file);
    }
    return { dir: SHARED, origin: "shared", vendoredDiffers };
  }
  if (!await readOrUndefined(`${VENDORED_DIR}run.sh`)) {
    throw new Error(`The bench anchor is missing: neither ${SHARED_DIR} nor ${VENDORED_DIR} holds run.sh`);
  }
  return { dir: VENDORED, origin: "vendored", vendoredDiffers: [] };
}

const LINE = /^clients=(\d+)\tunits_per_s=(\d+)\tretries=(\d+)\tlatency_ms=([\d.]*)$/;

/**
 * Parses run.sh's tab-separated lines (`clients=4	units_per_s=3012	retries=5	latency_ms=1.3`).
 * @throws {Error} a line that does not fit, naming it.
 */
export function parseAnchorOutput(text: string): AnchorResult[] {
  return text.split("\n").filter((l) => l.trim() !== "").map((line) => {
    const m = LINE.exec(line.trim());
    if (!m) throw new Error(`Unexpected line from the anchor's run.sh: ${JSON.stringify(line)}`);
    return {
      clients: Number(m[1]),
      unitsPerSecond: Number(m[2]),
      retries: Number(m[3]),
      latencyMs: m[4] === "" ? NaN : Number(m[4]),
    };
  });
}

/** Options for {@linkcode runAnchor}. */
export interface RunAnchorOptions {
  /** Where run.sh connects (as superuser; no password). */
  host: string;
  port: number;
  user: string;
  /** A database of its own: run.sh drops and creates tables named `work`, `machines`, ... in it. */
  database: string;
  seconds: number;
  clients: readonly number[];
  /** Put first on PATH, so run.sh finds the server's own psql and pgbench. */
  binDir?: string;
  /** The server's postmaster, to measure CPU (then run.sh runs once per client count). */
  postmaster?: number;
  /**
   * Run it as run.sh's usage line shows, with `-d DATABASE` in the conninfo,
   * which pgbench takes as --debug. DESIGN.md's ratios may have been measured
   * that way, so the report shows Drover against both.
   */
  asDocumented?: boolean;
}

async function runScript(source: AnchorSource, options: RunAnchorOptions, clients: readonly number[], seconds: number) {
  const path = [options.binDir, Deno.env.get("PATH")].filter(Boolean).join(":");
  // The database goes in PGDATABASE, not in the conninfo as `-d NAME` (run.sh's own example): psql reads
  // -d as the database, but pgbench reads it as --debug, and run.sh then captures a dozen debug lines per
  // transaction, which makes the anchor 15-25% slower.
  const conninfo = `-h ${options.host} -p ${options.port} -U ${options.user}` +
    (options.asDocumented ? ` -d ${options.database}` : "");
  const out = await new Deno.Command("bash", {
    args: [`${here(source.dir)}run.sh`, conninfo, String(seconds), clients.join(" ")],
    env: { PATH: path, PGDATABASE: options.database },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`The anchor's run.sh failed (exit ${out.code}):\n${stderr}${stdout}`);
  const results = parseAnchorOutput(stdout);
  if (results.length !== clients.length) {
    throw new Error(`The anchor's run.sh printed ${results.length} results for ${clients.length} client counts`);
  }
  return results;
}

/** CPU (ms) and units of one run.sh call for one client count. */
interface ScriptCost {
  units: number;
  clientMs: number;
  serverMs: number;
}

/**
 * What run.sh costs for `clients` in a run of `seconds`: its schema setup is
 * included, so CPU per unit is taken as a difference between two runs of
 * different lengths, in which that setup cancels out.
 */
async function measuredScript(
  source: AnchorSource,
  options: RunAnchorOptions & { postmaster: number },
  clients: number,
  seconds: number,
): Promise<{ result: AnchorResult; cost: ScriptCost }> {
  const before = readCpuTimes(options.postmaster);
  const [result] = await runScript(source, options, [clients], seconds);
  const after = readCpuTimes(options.postmaster);
  return {
    result,
    cost: {
      units: result.unitsPerSecond * seconds,
      clientMs: after.childrenMs - before.childrenMs,
      serverMs: after.serverMs - before.serverMs,
    },
  };
}

/** Short runs (one second per client count) whose CPU is subtracted from the real runs' to cancel run.sh's setup. */
export type AnchorCalibration = ReadonlyMap<number, ScriptCost>;

/** Runs run.sh for one second per client count, measuring its CPU; for {@linkcode runAnchor}'s CPU per unit. */
export async function calibrateAnchor(
  source: AnchorSource,
  options: RunAnchorOptions & { postmaster: number },
): Promise<AnchorCalibration> {
  const calibration = new Map<number, ScriptCost>();
  for (const clients of options.clients) {
    calibration.set(clients, (await measuredScript(source, options, clients, 1)).cost);
  }
  return calibration;
}

/**
 * Runs run.sh for every client count (it rebuilds its schema before each).
 * With `postmaster` and a calibration it runs once per client count and adds
 * CPU per unit: (this run's CPU − the calibration's) ÷ (units − units).
 * @throws {Error} run.sh failed (the message holds its stderr).
 */
export async function runAnchor(
  source: AnchorSource,
  options: RunAnchorOptions & { calibration?: AnchorCalibration },
): Promise<AnchorResult[]> {
  const seconds = Math.max(1, Math.round(options.seconds));
  const { postmaster, calibration } = options;
  // The calibration runs 1 s: a 1-second run's difference from it is noise.
  if (postmaster === undefined || calibration === undefined || seconds <= 1) {
    return await runScript(source, options, options.clients, seconds);
  }
  const results: AnchorResult[] = [];
  for (const clients of options.clients) {
    const { result, cost } = await measuredScript(source, { ...options, postmaster }, clients, seconds);
    const base = calibration.get(clients);
    const units = base ? cost.units - base.units : 0;
    const per = (ms: number, baseMs: number | undefined) => {
      const us = baseMs !== undefined && units > 0 ? ((ms - baseMs) * 1000) / units : NaN;
      return us > 0 ? us : NaN; // a run too short, or too disturbed, to tell
    };
    results.push({
      ...result,
      cpu: { clientUsPerUnit: per(cost.clientMs, base?.clientMs), serverUsPerUnit: per(cost.serverMs, base?.serverMs) },
    });
  }
  return results;
}
