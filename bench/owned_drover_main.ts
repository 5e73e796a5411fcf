/**
 * Drover's side of "Machines you own" in a process of its own, so that its
 * memory is Drover's alone (the BMCs are another process, the bench a third).
 * Started by bench/owned_drover_process.ts with the start task's `deno` flags.
 *
 * Loads the inventory and credentials files the BMC simulator wrote, opens the
 * BMDB (PostgreSQL at BENCH_DATABASE_URL, migrated and empty; or, without it,
 * an in-memory PGlite as `deno task start` opens one), and builds what the
 * service builds for an inventory: a `RedfishPool` with `maxInFlight` C and an
 * `InventoryProvider` with `sweepConcurrency` C, a `Provisioner` and an
 * `Updater` over it. Then, timed:
 *
 * 1. adoption: one `Provisioner.pass()` into the empty BMDB;
 * 2. with BENCH_SIM_CONTROL_URL (PostgreSQL only), two `Updater.pass()`
 *    sweeps: the first cold (per BMC the service root, a session, the
 *    system), the second warm (the system alone), each bracketed by the
 *    simulator's counters (`GET /_sim/stats`) and with the pool's requests in
 *    flight sampled every 50 ms.
 *
 * Prints `{"mark":"<phase>:start"}` / `…:end` lines as phases begin and end
 * (the parent reads this process's CPU and peak RSS from /proc then: a
 * process under the start task's flags may not read its own /proc entry),
 * and last one JSON line, `{"report": …}` ({@linkcode OwnedDroverOwnReport}).
 *
 * Environment: BENCH_INVENTORY, BENCH_CREDENTIALS, BENCH_CONCURRENCY,
 * BENCH_DATABASE_URL (absent: PGlite), BENCH_SIM_CONTROL_URL (absent: no
 * sweeps).
 *
 * @module
 */
import { Registry } from "prom-client";
import { type Bmdb, openBmdb, Provider } from "../bmdb/mod.ts";
import { loadInventory } from "../inventory/mod.ts";
import { InventoryProvider, Provisioner, TokenBucket, Updater } from "../loops/mod.ts";
import { RedfishPool } from "../redfish/mod.ts";
import { readSimStats } from "./bmc_sim_process.ts";
import type { MemoryNow, OwnedDroverOwnReport, PhaseMemory, SweepFigures } from "./owned_drover_process.ts";
import { startRssSampler } from "./rss_sampler.ts";
import { tallyLogger } from "./tally_logger.ts";

function setting(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function mark(name: string): void {
  console.log(JSON.stringify({ mark: name }));
}

function memoryNow(): MemoryNow {
  const m = Deno.memoryUsage();
  return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external };
}

/** Runs `work` as the phase `name`: marked, timed, its memory sampled. */
async function phase<T>(name: string, work: () => Promise<T>): Promise<{ value: T; ms: number; memory: PhaseMemory }> {
  const sampler = startRssSampler();
  mark(`${name}:start`);
  const startedAt = performance.now();
  const value = await work();
  const ms = performance.now() - startedAt;
  mark(`${name}:end`);
  return { value, ms, memory: { peaks: sampler.stop(), end: memoryNow() } };
}

/** The BMDB's inventory machines by provider status. */
async function statusCounts(bmdb: Bmdb): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let after: string | undefined;
  for (;;) {
    const page = await bmdb.read((q) =>
      q.getProvidedMachines({ provider: Provider.Inventory, limit: 10_000, ...(after ? { after } : {}) })
    );
    for (const m of page) {
      const status = m.providerStatus ?? "none";
      counts[status] = (counts[status] ?? 0) + 1;
    }
    if (page.length < 10_000) return counts;
    after = page[page.length - 1].machineId;
  }
}

const databaseUrl = Deno.env.get("BENCH_DATABASE_URL");
const controlUrl = Deno.env.get("BENCH_SIM_CONTROL_URL");
const concurrency = Number(setting("BENCH_CONCURRENCY"));
const logger = tallyLogger();

let startedAt = performance.now();
const inventory = await loadInventory({
  inventoryPath: setting("BENCH_INVENTORY"),
  credentialsPath: setting("BENCH_CREDENTIALS"),
});
const loadInventoryMs = performance.now() - startedAt;
startedAt = performance.now();
const bmdb = await openBmdb({
  component: "bench-owned",
  ...(databaseUrl ? { databaseUrl, poolSize: 4 } : {}),
  logger,
});
const openMs = performance.now() - startedAt;
const pool = new RedfishPool({ maxInFlight: concurrency });
try {
  const provider = new InventoryProvider({
    inventory: () => inventory,
    redfish: pool,
    bmdb,
    logger,
    sweepConcurrency: concurrency,
  });
  const registry = new Registry();
  const provisioner = new Provisioner(bmdb, provider, {
    maxDevices: 0, // an inventory creates nothing
    creationLimiter: new TokenBucket({ intervalMs: 1, burst: 1 }),
    registry,
    logger,
  });
  const updater = new Updater(bmdb, provider, { registry, logger });
  const opened = memoryNow();

  const adoption = await phase("adoption", () => provisioner.pass());
  const adoptedStatuses = await statusCounts(bmdb);

  const sweep = async (name: string, url: string): Promise<SweepFigures> => {
    const simBefore = await readSimStats(url);
    let samples = 0;
    let inFlightSum = 0;
    const timer = setInterval(() => {
      samples++;
      inFlightSum += pool.inFlight;
    }, 50);
    try {
      const run = await phase(name, () => updater.pass());
      const simAfter = await readSimStats(url);
      return {
        ms: run.ms,
        pass: run.value,
        simBefore,
        simAfter,
        meanInFlight: samples > 0 ? inFlightSum / samples : NaN,
        memory: run.memory,
      };
    } finally {
      clearInterval(timer);
    }
  };
  let sweeps: OwnedDroverOwnReport["sweeps"];
  if (controlUrl) {
    const cold = await sweep("cold", controlUrl);
    const warm = await sweep("warm", controlUrl);
    sweeps = { cold, warm, statuses: await statusCounts(bmdb), sessionsOpen: pool.sessionsOpen };
  }
  const report: OwnedDroverOwnReport = {
    database: databaseUrl ? "postgres" : "pglite",
    machines: inventory.machines.length,
    concurrency,
    loadInventoryMs,
    openMs,
    opened,
    adoption: { ms: adoption.ms, pass: adoption.value, statuses: adoptedStatuses, memory: adoption.memory },
    ...(sweeps ? { sweeps } : {}),
    log: { warnings: logger.warnings, errors: logger.errors, first: [...logger.first] },
  };
  console.log(JSON.stringify({ report }));
} finally {
  // The sessions' DELETEs are not measured; the simulator is stopped right after anyway.
  await pool.close({ timeoutMs: 2000 });
  await bmdb.close();
}
