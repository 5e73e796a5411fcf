/**
 * Issue 8: the embedded service from an empty data dir to its first
 * heartbeating machine, and its use of the machine once idle.
 *
 * Each run spawns main.ts as `deno task start` runs it (bench/drover_process.ts)
 * with nothing configured but an empty temporary DROVER_DATA_DIR and a free
 * DROVER_LISTEN port: PGlite created from scratch, the simulator in-process
 * with its default reservations, simulated agents. It reads the admin token
 * from the login line and polls GET /api/v1/machines (every 100 ms, as
 * tests/service/start_test.ts does) until a machine shows a heartbeat, then
 * until every simulated machine does. After the last run's fleet is up and a
 * short settling pause, the process's CPU and RSS are sampled over
 * `idleSeconds`.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../tests/harness/free_port.ts";
import { waitFor, within } from "../tests/harness/wait.ts";
import { type DroverProcess, heartbeatingMachines, spawnDrover } from "./drover_process.ts";
import { median } from "./percentile.ts";
import { type IdleSample, processPeakRssBytes, sampleIdle } from "./process_stats.ts";

/** The embedded simulator's reservations when nothing is configured (DROVER_SIM_RESERVATIONS's default). */
export const EMBEDDED_MACHINES = 8;
/** After the fleet is up, before the idle window: the last agent's first heartbeats and the loops' passes settle. */
const SETTLE_MS = 2000;
const POLL_MS = 100;

export interface EmbeddedStartOptions {
  runs: number;
  idleSeconds: number;
  /** Starts Drover with these settings. @default spawnDrover (main.ts as deno task start runs it) */
  spawn?: (env: Record<string, string>) => DroverProcess;
}

/** One start, timed from the spawn. */
export interface EmbeddedStartRun {
  /** Until the login line: the service is up (database created, loops and server started). */
  loginMs: number;
  /** Until GET /api/v1/machines shows the first machine with a heartbeat: the target. */
  firstHeartbeatMs: number;
  /** Until every simulated machine heartbeats (device creation is rate limited: 5 at once, then one per 2 s). */
  allHeartbeatingMs: number;
}

export interface EmbeddedResult {
  machines: number;
  runs: EmbeddedStartRun[];
  median: EmbeddedStartRun;
  /** The last run's process once its fleet was up. */
  idle: IdleSample;
  /** The last run's largest RSS over its life (VmHWM), start-up included. */
  lifetimePeakRssBytes: number;
}

async function startOnce(
  dir: string,
  spawn: (env: Record<string, string>) => DroverProcess,
): Promise<{ process: DroverProcess; run: EmbeddedStartRun }> {
  // The embedded service itself, not the demo's misbehaving fleet (its provisioning alone takes 12-40 s on purpose).
  const process = spawn({
    DROVER_DATA_DIR: `${dir}/data`,
    DROVER_LISTEN: `127.0.0.1:${freePort()}`,
    DROVER_DEMO: "false",
  });
  try {
    const since = () => performance.now() - process.spawnedAt;
    const login = new URL(await within(process.loginUrl, 60_000, "the embedded service's login line"));
    const loginMs = since();
    const token = login.searchParams.get("token");
    if (!token) throw new Error(`the login URL holds no token: ${login.origin}${login.pathname}`);
    const heartbeating = async (n: number) =>
      ((await heartbeatingMachines(login.origin, token))?.heartbeating ?? 0) >= n;
    await waitFor(() => heartbeating(1), { timeoutMs: 60_000, intervalMs: POLL_MS, what: "a heartbeating machine" });
    const firstHeartbeatMs = since();
    await waitFor(() => heartbeating(EMBEDDED_MACHINES), {
      timeoutMs: 90_000,
      intervalMs: POLL_MS,
      what: `${EMBEDDED_MACHINES} heartbeating machines`,
    });
    return { process, run: { loginMs, firstHeartbeatMs, allHeartbeatingMs: since() } };
  } catch (error) {
    await process.stop();
    throw new Error(
      `embedded start failed: ${error instanceof Error ? error.message : error}\n` +
        `its log:\n${process.log().slice(-4000)}`,
      { cause: error },
    );
  }
}

/** `options.runs` embedded starts, each on a fresh data dir; the idle figures from the last. */
export async function measureEmbeddedStart(
  options: EmbeddedStartOptions,
  onRun: (run: EmbeddedStartRun, index: number) => void = () => {},
): Promise<EmbeddedResult> {
  if (!Number.isInteger(options.runs) || options.runs < 1) {
    throw new RangeError(`runs must be a positive integer: current value is ${options.runs}`);
  }
  const runs: EmbeddedStartRun[] = [];
  let idle: IdleSample | undefined;
  let lifetimePeakRssBytes = NaN;
  for (let i = 0; i < options.runs; i++) {
    const dir = await Deno.makeTempDir({ prefix: "drover-bench-embedded-" });
    try {
      const { process, run } = await startOnce(dir, options.spawn ?? spawnDrover);
      try {
        runs.push(run);
        onRun(run, i);
        if (i === options.runs - 1) {
          await sleep(SETTLE_MS);
          idle = await sampleIdle(process.pid, options.idleSeconds);
          lifetimePeakRssBytes = processPeakRssBytes(process.pid);
        }
      } finally {
        await process.stop();
      }
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
  if (!idle) throw new Error("unreachable: the last run measures the idle process");
  const of = (pick: (r: EmbeddedStartRun) => number) => median(runs.map(pick));
  return {
    machines: EMBEDDED_MACHINES,
    runs,
    median: {
      loginMs: of((r) => r.loginMs),
      firstHeartbeatMs: of((r) => r.firstHeartbeatMs),
      allHeartbeatingMs: of((r) => r.allHeartbeatingMs),
    },
    idle,
    lifetimePeakRssBytes,
  };
}
