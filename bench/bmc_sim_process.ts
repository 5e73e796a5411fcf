/**
 * The BMC simulator (`redfish/simulator/main.ts`, `deno task bmc-sim`) as a
 * child process of the bench, so that serving thousands of BMCs costs
 * Drover's process nothing: started with the task's own permissions, ready
 * once it prints its control endpoint's line (after every BMC's), its
 * inventory and credentials files written to a temporary directory, and its
 * fleet counters (`GET /_sim/stats`) read on request. Stopped with SIGTERM
 * (SIGKILL after 15 s), which also removes the directory.
 *
 * @module
 */
import { spawnWatched } from "../tests/harness/watched_process.ts";
import { within } from "../tests/harness/wait.ts";
import type { BmcFleetStats } from "../redfish/simulator/mod.ts";
import { childEnvironment } from "./drover_process.ts";

const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname);
const ENTRY = decodeURIComponent(new URL("../redfish/simulator/main.ts", import.meta.url).pathname);
/** `deno task bmc-sim`'s permissions (deno.json). */
const PERMISSIONS = ["--allow-net", "--allow-read", "--allow-write"];

/** The fleet's counters, as `GET /_sim/stats` answers. */
export type SimStats = BmcFleetStats;

/** What the simulator is asked to run. */
export interface BmcSimSettings {
  bmcs: number;
  /** Every reply is delayed uniformly within this range, in ms. */
  latencyMs: { min: number; max: number };
}

/** A running simulator. */
export interface BmcSimProcess extends AsyncDisposable {
  readonly pid: number;
  /** The inventory file it wrote: one machine per BMC. */
  readonly inventoryPath: string;
  /** The credentials file it wrote (mode 0600). */
  readonly credentialsPath: string;
  /** The control endpoint, e.g. `http://127.0.0.1:41234`. */
  readonly controlUrl: string;
  /** Seconds from the spawn until it was ready. */
  readonly startSeconds: number;
  /** Its counters now. */
  stats(): Promise<SimStats>;
  /** SIGTERM (SIGKILL after 15 s), then removes its files. Idempotent. */
  stop(): Promise<void>;
}

/** How long 10,000 BMCs may take to start listening (about 4 s here). */
const START_LIMIT_MS = 120_000;

/** Reads a fleet's counters from its control endpoint. */
export async function readSimStats(controlUrl: string): Promise<SimStats> {
  const response = await fetch(`${controlUrl}/_sim/stats`);
  if (!response.ok) {
    throw new Error(`GET ${controlUrl}/_sim/stats answered ${response.status}: ${await response.text()}`);
  }
  return await response.json() as SimStats;
}

/**
 * Starts the simulator with `settings` and waits until every BMC listens.
 * @throws {Error} it exited or did not get ready in time (it is stopped, its files removed)
 */
export async function startBmcSimProcess(settings: BmcSimSettings): Promise<BmcSimProcess> {
  const dir = await Deno.makeTempDir({ prefix: "drover-bench-bmcs-" });
  const inventoryPath = `${dir}/inventory.yaml`;
  const credentialsPath = `${dir}/credentials.yaml`;
  const spawnedAt = performance.now();
  const process = spawnWatched({
    args: [
      "run",
      ...PERMISSIONS,
      ENTRY,
      "--bmcs",
      String(settings.bmcs),
      "--latency",
      `${settings.latencyMs.min}-${settings.latencyMs.max}`,
      "--write-inventory",
      inventoryPath,
      "--write-credentials",
      credentialsPath,
      "--control-port",
      "0",
    ],
    cwd: REPO,
    env: childEnvironment({}),
    // Printed after every BMC's line, once the files are written.
    readyWhen: (stdout) => /^Control endpoint listening on (http:\/\/\S+)\/_sim\//m.exec(stdout)?.[1],
    what: "the BMC simulator",
  });
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        await process.stop();
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    })();
  let controlUrl: string;
  try {
    controlUrl = await within(process.ready, START_LIMIT_MS, `${settings.bmcs} simulated BMCs listening`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    pid: process.child.pid,
    inventoryPath,
    credentialsPath,
    controlUrl,
    startSeconds: (performance.now() - spawnedAt) / 1000,
    stats: () => readSimStats(controlUrl),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
