/**
 * The Metal API simulator's and client's speed (issue 5):
 *
 * - Simulator throughput: getDevice requests per second with the simulator
 *   (`deno task sim`, a child process) pinned to one core and the load
 *   generator (this process, many concurrent keep-alive fetches) on the
 *   other. Its CPU use is read too, so requests per CPU-second tells whether
 *   the core was saturated or the load generator was the limit.
 * - Client overhead: the median time of a getDevice through EquinixClient
 *   (apiRate 0: gate, retry wrapper, zod parse, metrics) minus the median of
 *   the same request as a bare fetch + JSON parse, in alternating rounds
 *   against the same simulator.
 *
 * @module
 */
import { EquinixClient } from "../equinix/mod.ts";
import { freePort } from "../tests/harness/free_port.ts";
import { printedSettings } from "../tests/harness/printed_settings.ts";
import { processCpuMs } from "./cpu_time.ts";
import { median } from "./percentile.ts";

export interface SimulatorThroughputResult {
  /** Median over the runs. */
  requestsPerSecond: number;
  runs: number[];
  concurrency: number;
  /** The simulator's CPU use during the runs, as a fraction of one core (median). */
  simulatorCoreBusy: number;
  /** Requests per CPU-second of the simulator (median): its one-core capacity. */
  requestsPerCpuSecond: number;
  /** Whether `taskset` pinned the simulator and the load generator to separate cores. */
  pinned: boolean;
}

export interface ClientOverheadResult {
  calls: number;
  /** Median of a client getDevice, milliseconds. */
  clientMedianMs: number;
  /** Median of the same request as fetch + json(), milliseconds. */
  fetchMedianMs: number;
  /** Median over the rounds of (client median − fetch median). */
  overheadMs: number;
}

export interface EquinixBenchResult {
  simulator: SimulatorThroughputResult;
  client: ClientOverheadResult;
}

const TOKEN = "bench-token";

interface SimulatorProcess {
  url: string;
  projectId: string;
  pid: number;
  stop(): Promise<void>;
}

function haveTaskset(): boolean {
  try {
    return new Deno.Command("taskset", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Pins every thread of a process to one CPU list ("0", "1", "0,1"). */
function pin(pid: number, cpus: string): void {
  new Deno.Command("taskset", { args: ["-a", "-p", "-c", cpus, String(pid)], stdout: "null", stderr: "null" })
    .outputSync();
}

/** Starts `deno task sim`'s program as a child; resolves once it printed its URL. */
async function startSimulatorProcess(): Promise<SimulatorProcess> {
  const port = freePort();
  const projectId = crypto.randomUUID();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      new URL("../equinix/simulator/main.ts", import.meta.url).pathname,
      "--listen",
      `127.0.0.1:${port}`,
      "--token",
      TOKEN,
      "--project",
      projectId,
      "--reservations",
      "1",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { EQUINIX_API_URL: url } = await printedSettings(lines, ["EQUINIX_API_URL"]);
  // Keep draining stdout so the child never blocks on a full pipe.
  (async () => {
    while (!(await lines.read()).done) { /* discard */ }
  })().catch(() => {});
  return {
    url,
    projectId,
    pid: child.pid,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** One device on the simulator's reservation, made through the client (apiRate 0). */
async function createDevice(client: EquinixClient): Promise<string> {
  const [reservation] = await client.listReservations();
  const device = await client.createDevice({
    hardware_reservation_id: reservation.id,
    metro: reservation.facility?.metro?.code ?? "sv",
    plan: reservation.plan?.slug ?? "c3.small.x86",
    operating_system: "ubuntu_24_04",
    hostname: "bench",
  });
  return device.id;
}

async function throughputRun(
  sim: SimulatorProcess,
  deviceUrl: string,
  concurrency: number,
  seconds: number,
): Promise<{ requestsPerSecond: number; coreBusy: number }> {
  const headers = { "X-Auth-Token": TOKEN };
  const stop = performance.now() + seconds * 1000;
  let requests = 0;
  const cpuBefore = processCpuMs(sim.pid);
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < stop) {
      const response = await fetch(deviceUrl, { headers });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error(`getDevice answered ${response.status}`);
      requests++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  const cpuSeconds = (processCpuMs(sim.pid) - cpuBefore) / 1000;
  return { requestsPerSecond: requests / elapsed, coreBusy: cpuSeconds / elapsed };
}

async function overheadRound(
  client: EquinixClient,
  deviceId: string,
  deviceUrl: string,
  calls: number,
): Promise<{ clientMs: number; fetchMs: number }> {
  const headers = { "X-Auth-Token": TOKEN };
  const clientTimes: number[] = [];
  const fetchTimes: number[] = [];
  for (let i = 0; i < calls; i++) {
    let t = performance.now();
    await client.getDevice(deviceId);
    clientTimes.push(performance.now() - t);
    t = performance.now();
    const response = await fetch(deviceUrl, { headers });
    await response.json();
    fetchTimes.push(performance.now() - t);
  }
  return { clientMs: median(clientTimes), fetchMs: median(fetchTimes) };
}

/** Both measurements, on one simulator child process. */
export async function measureEquinix(
  options: { seconds: number; runs: number; concurrency?: number; overheadCalls?: number },
): Promise<EquinixBenchResult> {
  const concurrency = options.concurrency ?? 32;
  const overheadCalls = options.overheadCalls ?? 500;
  const pinned = haveTaskset();
  const sim = await startSimulatorProcess();
  const client = new EquinixClient({ baseUrl: sim.url, token: TOKEN, projectId: sim.projectId, apiRate: 0 });
  try {
    const deviceId = await createDevice(client);
    const deviceUrl = `${sim.url}/devices/${deviceId}`;

    if (pinned) {
      pin(sim.pid, "0");
      pin(Deno.pid, "1");
    }
    const runs: { requestsPerSecond: number; coreBusy: number }[] = [];
    try {
      await throughputRun(sim, deviceUrl, concurrency, 1); // warm-up: JIT, connections
      for (let i = 0; i < options.runs; i++) {
        runs.push(await throughputRun(sim, deviceUrl, concurrency, options.seconds));
      }
    } finally {
      if (pinned) {
        pin(Deno.pid, "0,1");
        pin(sim.pid, "0,1");
      }
    }

    const rounds: { clientMs: number; fetchMs: number }[] = [];
    await overheadRound(client, deviceId, deviceUrl, 100); // warm-up
    for (let i = 0; i < Math.max(3, options.runs); i++) {
      rounds.push(await overheadRound(client, deviceId, deviceUrl, overheadCalls));
    }
    return {
      simulator: {
        requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
        runs: runs.map((r) => r.requestsPerSecond),
        concurrency,
        simulatorCoreBusy: median(runs.map((r) => r.coreBusy)),
        requestsPerCpuSecond: median(runs.map((r) => r.requestsPerSecond / r.coreBusy)),
        pinned,
      },
      client: {
        calls: overheadCalls,
        clientMedianMs: median(rounds.map((r) => r.clientMs)),
        fetchMedianMs: median(rounds.map((r) => r.fetchMs)),
        overheadMs: median(rounds.map((r) => r.clientMs - r.fetchMs)),
      },
    };
  } finally {
    client.close();
    await sim.stop();
  }
}
