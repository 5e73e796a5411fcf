/**
 * What one `deno task bench` run measures, from its command line.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { FINISH_AND_CLAIM_BELOW } from "../loops/runner.ts";
import type { UnitChoice } from "./workload.ts";

/** Everything a bench run needs to know up front. */
export interface BenchPlan {
  quick: boolean;
  /** Length of one measured run, for the anchor and for Drover. */
  seconds: number;
  /** Measured runs per configuration; each figure is their median. */
  runs: number;
  /** Unmeasured work before a configuration's runs (connections open, plans cached). */
  warmupSeconds: number;
  /** Workers (and the anchor's clients) per configuration. */
  workerCounts: readonly number[];
  /** Fleets measured on PostgreSQL, in order. */
  fleetSizes: readonly number[];
  /** The fleet of the PGlite run (one worker). */
  pgliteFleetSize: number;
  /** Live sessions in the database during a run: the workers' own plus idle ones. */
  liveSessions: number;
  /** One machine in this many is in an active backoff (spread evenly over the id space). */
  backoffEvery: number;
  /** Claims that find nothing, timed at each fleet. */
  idlePolls: number;
  /** How workers string units together (see {@linkcode UnitChoice}): the figures the targets are checked on. */
  unit: UnitChoice;
  /** Where the JSON report goes. */
  outPath: string;
  /** Where the chart of units/s by worker count goes (SVG). */
  chartPath: string;
  /**
   * `--only peers`: the anchor, pgbench TPC-B, Drover at 10,000 machines (its
   * main unit shape) and the peers, nothing else; for iterating on issue 9.
   */
  peersOnly: boolean;
  /**
   * `--only owned`: "Machines you own" (issue 27) alone, merged into the
   * report at `outPath` (latest.json by default; with `--quick`,
   * owned-only.json), whose other figures stay as they are.
   */
  ownedOnly: boolean;
}

const USAGE = `deno task bench [--quick] [--seconds N] [--runs N] [--unit U] [--only peers|owned] [--out PATH] [--help]

  --quick      one short run per configuration (1 s) and smaller service figures: a smoke
               check (under 2 minutes), not figures to judge by
  --seconds N  length of each measured run (default 10; 1 with --quick)
  --runs N     measured runs per configuration, reported as the median (default 3; 1 with --quick)
  --unit U     runner (default: as the control loops' runner does at each worker count:
               finish-and-claim below ${FINISH_AND_CLAIM_BELOW} workers, overlapped from ${FINISH_AND_CLAIM_BELOW} on),
               finish-and-claim (each finish and the next claim in one statement),
               overlapped (a finish, and the next claim sent while it is in flight) or
               claim-then-finish (a claim and a finish, two statements, each awaited);
               at 10k machines the runner's other shape is measured too, at every worker count
  --only peers the anchor, pgbench TPC-B, Drover at 10k machines and the peers (graphile-worker,
               pg-boss) alone; the report goes to bench/results/peers-only.json (or --out)
  --only owned "Machines you own" alone (10,000 simulated BMCs; 1,000 with --quick), merged into
               bench/results/latest.json (with --quick: owned-only.json; or --out), whose other
               figures stay
  --out PATH   JSON report (default bench/results/latest.json); the chart goes beside it
               (bench/results/units-by-workers.svg for the default, else PATH less .json
               + .units-by-workers.svg)`;

const RESULTS = new URL("./results/", import.meta.url).pathname;

/** The chart's path for a JSON report's: the committed one beside latest.json, else one named after the report. */
function chartPathFor(outPath: string): string {
  return outPath === `${RESULTS}latest.json`
    ? `${RESULTS}units-by-workers.svg`
    : `${outPath.replace(/\.json$/, "")}.units-by-workers.svg`;
}

const UNITS: Record<string, UnitChoice> = {
  "runner": "runner",
  "finish-and-claim": "finishAndClaim",
  "overlapped": "overlapped",
  "claim-then-finish": "claimThenFinish",
};

function positiveNumber(name: string, text: string | undefined, fallback: number, integer: boolean): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new RangeError(
      `--${name} must be a positive ${integer ? "integer" : "number"}: current value is ${JSON.stringify(text)}`,
    );
  }
  return n;
}

/**
 * Reads the command line. Returns undefined after printing the usage for `--help`.
 * @throws {RangeError} a malformed number; {TypeError} an unknown option.
 */
export function parsePlan(args: string[]): BenchPlan | undefined {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      seconds: { type: "string" },
      runs: { type: "string" },
      out: { type: "string" },
      unit: { type: "string" },
      only: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return undefined;
  }
  const quick = values.quick;
  const unit = UNITS[values.unit ?? "runner"];
  if (!unit) {
    throw new RangeError(
      `--unit must be one of ${Object.keys(UNITS).join(", ")}: current value is ${JSON.stringify(values.unit)}`,
    );
  }
  if (values.only !== undefined && values.only !== "peers" && values.only !== "owned") {
    throw new RangeError(`--only takes peers or owned: current value is ${JSON.stringify(values.only)}`);
  }
  const peersOnly = values.only === "peers";
  const ownedOnly = values.only === "owned";
  const defaultOut = peersOnly ? "peers-only" : ownedOnly && quick ? "owned-only" : "latest";
  const outPath = values.out ?? `${RESULTS}${defaultOut}.json`;
  // Whole seconds: pgbench (the anchor) takes nothing finer.
  const seconds = positiveNumber("seconds", values.seconds, quick ? 1 : 10, true);
  return {
    quick,
    seconds,
    runs: positiveNumber("runs", values.runs, quick ? 1 : 3, true),
    warmupSeconds: quick ? 0.25 : 1.5,
    workerCounts: [1, 4, 16],
    fleetSizes: peersOnly ? [10_000] : [10_000, 100_000],
    pgliteFleetSize: 10_000,
    liveSessions: 64,
    backoffEvery: 100,
    idlePolls: quick ? 5 : 15,
    unit,
    outPath,
    chartPath: chartPathFor(outPath),
    peersOnly,
    ownedOnly,
  };
}
