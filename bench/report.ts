/**
 * The bench's results: a readable table for the terminal, and the JSON file
 * (bench/results/latest.json) with every figure.
 *
 * @module
 */
import { dirname } from "node:path";
import type { AnchorResult, AnchorSource } from "./anchor.ts";
import type { ConfigurationResult } from "./configuration.ts";
import type { FleetCounts } from "./fleet.ts";
import type { IdlePollResult } from "./idle_poll.ts";
import type { MachineInfo } from "./machine_info.ts";
import type { BenchPlan } from "./plan.ts";
import type { EquinixBenchResult } from "./equinix.ts";
import type { AgentApiResult } from "./agent_api.ts";
import type { FleetBringupResult, Milestone } from "./fleet_bringup.ts";
import type { ServiceFigures } from "./service_figures.ts";
import { formatServiceSection } from "./service_report.ts";
import { table } from "./text_table.ts";
import { targetsTable } from "./targets_table.ts";
import { SHAPE_LABEL } from "./workload.ts";
import type { EventResults } from "./targets.ts";
import type { TpcbResult } from "./tpcb.ts";
import type { PeerResults } from "./peers/measure.ts";
import { formatPeersSection } from "./peers/section.ts";
import type { OwnedMachinesResult } from "./owned_machines.ts";
import { formatOwnedSection } from "./owned_report.ts";
import {
  AGENT_API_ANCHOR_CLIENTS,
  AGENT_API_HEARTBEATS_PER_SECOND,
  AGENT_API_RATIO_TO_ANCHOR_16,
  CLAIM_P99_GROWTH_AT_MOST,
  fleetLabel,
  PGLITE_FLOOR_UNITS_PER_SECOND,
  RATIO_AIM,
  RATIO_FLOOR,
  ratioToAnchor,
  RETRIES_PER_100_BELOW,
  RSS_16_WORKERS_BELOW_BYTES,
  type TargetCheck,
} from "./targets.ts";

/** Everything a bench run measured. */
export interface BenchReport {
  timestamp: string;
  durationSeconds: number;
  /** `Deno.loadavg()` when the bench started and ended: other processes on the machine skew the figures. */
  loadAverage: { start: number[]; end: number[] };
  /** The plan, less the output paths (they name this machine's directories). */
  plan: Omit<BenchPlan, "outPath" | "chartPath">;
  machine: MachineInfo;
  anchor: {
    source: AnchorSource;
    /** One entry per run, each with one result per client count. */
    runs: AnchorResult[][];
    /** Medians over the runs, per client count. */
    median: AnchorResult[];
    /** The anchor run as run.sh's usage line shows (`-d anchor`, which pgbench reads as --debug). */
    asDocumented?: { runs: AnchorResult[][]; median: AnchorResult[] };
  };
  fleets: FleetCounts[];
  postgres: ConfigurationResult[];
  /** The other unit shape at the smallest fleet, for comparison (targets are not checked on it). */
  otherUnit: ConfigurationResult[];
  pglite: ConfigurationResult[];
  idlePolls: IdlePollResult[];
  events: EventResults;
  /** The Metal API simulator and client; absent when the bench skipped them. */
  equinix?: EquinixBenchResult;
  /** Issue 6: simulated machines from hardware reservations to heartbeating; absent when skipped. */
  fleetBringup?: FleetBringupResult;
  /** Issue 6: the agent API's accepted heartbeats per second; absent when skipped. */
  agentApi?: AgentApiResult;
  /** Issues 7 and 8: the admin API, dashboard and event stream, and the service's start and idle; absent when skipped. */
  service?: ServiceFigures;
  /** Issue 9: pgbench's built-in TPC-B-like script at the anchor's client counts; absent when skipped. */
  tpcb?: TpcbResult;
  /** Issue 9: graphile-worker and pg-boss on the same server; absent when skipped. */
  peers?: PeerResults;
  /** Issue 27: machines you own, adopted and swept through simulated BMCs; absent when skipped. */
  owned?: OwnedMachinesResult;
  targets: TargetCheck[];
  notes: string[];
}

function fixed(n: number | undefined, digits: number): string {
  return n === undefined || Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function mark(met: boolean): string {
  return met ? "met" : "MISSED";
}

/** Runs of one configuration whose fastest is this much above its slowest are too noisy to judge by. */
const NOISY_SPREAD = 1.3;

function spread(runs: ({ unitsPerSecond: number } | undefined)[]): number {
  const values = runs.filter((r) => r !== undefined).map((r) => r.unitsPerSecond);
  return values.length > 1 ? Math.max(...values) / Math.min(...values) : NaN;
}

function maxOf(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length > 0 ? Math.max(...known) : undefined;
}

function mib(bytes: number | undefined): string {
  return bytes === undefined ? "-" : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

function seconds(ms: number): string {
  return fixed(ms / 1000, 1);
}

/** Issue 6: the bring-up's stages and costs, and the agent API's heartbeats. */
function fleetSection(r: BenchReport, anchor: ReadonlyMap<number, number>): string[] {
  const lines: string[] = [];
  const b = r.fleetBringup;
  if (b) {
    const s = b.settings;
    const stage = (name: string, m: Milestone) => [
      name,
      String(m.reached),
      seconds(m.firstMs),
      seconds(m.medianMs),
      seconds(m.allMs),
    ];
    const retried = Object.entries(b.transactions.retriedBy).map(([what, n]) => `${n} ${what}`).join(", ");
    const ops = Object.entries(b.apiRequests.byOperation).map(([op, n]) => `${op} ${n}`).join(", ");
    const limiter = (name: string, l: typeof b.claimLimiter) => {
      const over = fixed(l.worstWindowTokensOverRate, 2);
      return `${name} limiter (one per ${l.intervalMs} ms, burst ${l.burst}): ${l.tokens} tokens in ` +
        `${seconds(l.elapsedMs)} s, allowance ${fixed(l.allowance, 0)}; at most ${over} tokens in any window beyond ` +
        `its rate (burst ${l.burst}): ${l.held ? "held" : "EXCEEDED"}`;
    };
    const { commits, rollbacks, perMachine } = b.transactions;
    const requests = fixed(b.apiRequests.perMachine, 2);
    lines.push(
      `Fleet bring-up (issue 6), ${s.machines} simulated machines from hardware reservations to heartbeating, ` +
        `in-process: ${b.complete ? "complete" : "INCOMPLETE"} in ${seconds(b.elapsedMs)} s`,
      table(
        ["stage", "machines", "first s", "median s", "all s"],
        [
          stage("device created", b.devicesCreated),
          stage("agent started", b.agentsStarted),
          stage("first heartbeat accepted", b.heartbeating),
        ],
        (i) => i >= 1,
      ),
      `Per machine: ${fixed(perMachine, 2)} database transactions (${commits} commits, ${rollbacks} rollbacks; ` +
        `retried: ${retried || "none"}), ${requests} Metal API requests (${ops})`,
      limiter("Claim", b.claimLimiter),
      limiter("Device-creation", b.creationLimiter),
      `CPU over the bring-up: this process (loops, server, agents, simulator) ${fixed(b.cpu.processCores, 2)} cores, ` +
        `PostgreSQL ${fixed(b.cpu.serverCores, 2)}; ${b.warnings} warnings, ${b.errors} errors logged` +
        (b.firstProblems.length > 0 ? ` (first: ${b.firstProblems[0]})` : ""),
      `Settings: simulator queued ${s.simulator.queuedMs} ms + provisioning ${s.simulator.provisioningMs} ms, client ` +
        `apiRate 0 and per_page ${s.clientPageSize}; provisioner chunk ${s.provisioner.chunkSize} every ` +
        `${s.provisioner.intervalMs} ms; updater every ${s.updater.intervalMs} ms; initializer ` +
        `${s.initializer.parallelism} workers, agents heartbeat every ${s.initializer.heartbeatIntervalSeconds} s; ` +
        `recoverer ${s.recoverer.parallelism} worker`,
      "",
    );
  }
  const a = r.agentApi;
  if (a) {
    const anchor16 = anchor.get(AGENT_API_ANCHOR_CLIENTS);
    const ratio = anchor16 ? a.median.acceptedPerSecond / anchor16 : NaN;
    lines.push(
      `Agent API (issue 6): signed heartbeats from a separate process, ${a.machines} machines, ${a.concurrency} in ` +
        `flight, ${r.plan.runs} run(s) of ${a.seconds} s, medians:`,
      table(
        [
          "heartbeats/s",
          `>= ${AGENT_API_HEARTBEATS_PER_SECOND}`,
          `anchor ${AGENT_API_ANCHOR_CLIENTS}c`,
          "ratio",
          `>= ${AGENT_API_RATIO_TO_ANCHOR_16.toFixed(2)}`,
          "runs",
          "p50 ms",
          "p99 ms",
          "per statement",
          "non-204",
          "CPU µs/heartbeat: server",
          "PostgreSQL",
          "load generator",
        ],
        [[
          fixed(a.median.acceptedPerSecond, 0),
          mark(a.median.acceptedPerSecond >= AGENT_API_HEARTBEATS_PER_SECOND),
          fixed(anchor16, 0),
          fixed(ratio, 2),
          mark(ratio >= AGENT_API_RATIO_TO_ANCHOR_16),
          a.runs.map((x) => x.acceptedPerSecond.toFixed(0)).join(" / "),
          fixed(a.median.p50Ms, 2),
          fixed(a.median.p99Ms, 2),
          fixed(a.median.heartbeatsPerStatement, 1),
          String(a.errors),
          fixed(a.median.cpuUs.server, 0),
          fixed(a.median.cpuUs.postgres, 0),
          fixed(a.median.cpuUs.loadGenerator, 0),
        ]],
        (i) => i !== 1 && i !== 4 && i !== 5,
      ),
      "",
    );
  }
  return lines;
}

/** The terminal summary: configurations, the anchor, other figures, targets. */
export function formatReport(r: BenchReport): string {
  const anchor = new Map(r.anchor.median.map((a) => [a.clients, a.unitsPerSecond]));
  const smallest = Math.min(...r.postgres.map((c) => c.machines));
  const p99At = (machines: number, workers: number) =>
    r.postgres.find((c) => c.machines === machines && c.workers === workers)?.median.claimP99Ms;
  const rows = [...r.postgres, ...r.pglite].map((c) => {
    const ratio = ratioToAnchor(c, anchor);
    const isPg = c.database === "postgres";
    const ratioTargets = isPg && c.machines === smallest;
    const floor = RATIO_FLOOR[c.workers];
    const aim = RATIO_AIM[c.workers];
    const p99Base = isPg && c.machines !== smallest ? p99At(smallest, c.workers) : undefined;
    return [
      `${isPg ? "PostgreSQL" : "PGlite"} ${fleetLabel(c.machines)}`,
      String(c.workers),
      SHAPE_LABEL[c.unit],
      fixed(c.median.unitsPerSecond, 0),
      isPg ? fixed(anchor.get(c.workers), 0) : "-",
      isPg ? fixed(ratio, 2) : "-",
      ratioTargets && floor !== undefined ? `${floor.toFixed(2)} ${mark(ratio >= floor)}` : "-",
      ratioTargets && aim !== undefined ? `${aim.toFixed(2)} ${mark(ratio >= aim)}` : "-",
      `${fixed(c.median.retriesPer100Units, 2)} ${mark(c.median.retriesPer100Units < RETRIES_PER_100_BELOW)}`,
      fixed(c.median.claimP50Ms, 2),
      fixed(c.median.claimP99Ms, 2),
      p99Base === undefined
        ? "-"
        : `${fixed(c.median.claimP99Ms / p99Base, 2)}x ${
          mark(c.median.claimP99Ms / p99Base <= CLAIM_P99_GROWTH_AT_MOST)
        }`,
      fixed(c.median.finishP50Ms, 2),
      fixed(c.median.clientCpuUsPerUnit, 0),
      fixed(c.median.serverCpuUsPerUnit, 0),
    ];
  });
  const main = table(
    [
      "configuration",
      "workers",
      "unit",
      "units/s",
      "anchor",
      "ratio",
      "floor",
      "aim",
      "retries/100 (<1)",
      "claim p50 ms",
      "claim p99 ms",
      "p99 vs 10k (<=2x)",
      "finish p50 ms",
      "CPU µs/unit: client",
      "server",
    ],
    rows,
    (i) => i === 1 || i >= 3 && i <= 5 || i >= 9 && i <= 10 || i >= 12,
  );
  const anchorSpread = (clients: number) => spread(r.anchor.runs.map((run) => run.find((x) => x.clients === clients)));
  const anchorTable = table(
    [
      "anchor clients",
      "units/s (median)",
      "runs",
      "max/min",
      "pgbench retries",
      "latency ms",
      "CPU µs/unit: client",
      "server",
    ],
    r.anchor.median.map((a) => [
      String(a.clients),
      String(a.unitsPerSecond),
      r.anchor.runs.map((run) => run.find((x) => x.clients === a.clients)?.unitsPerSecond ?? "-").join(" / "),
      fixed(anchorSpread(a.clients), 2),
      String(a.retries),
      fixed(a.latencyMs, 3),
      fixed(a.cpu?.clientUsPerUnit, 0),
      fixed(a.cpu?.serverUsPerUnit, 0),
    ]),
    (i) => i !== 2,
  );
  const noisy = [...r.postgres, ...r.pglite].map((c) => ({ c, s: spread(c.runs) }))
    .filter(({ c, s }) => s > NOISY_SPREAD || anchorSpread(c.workers) > NOISY_SPREAD && c.database === "postgres");
  const pglite = r.pglite.find((c) => c.workers === 1);
  const cpuRatios = r.postgres.filter((c) => c.machines === smallest).flatMap((c) => {
    const a = r.anchor.median.find((x) => x.clients === c.workers)?.cpu;
    const anchorUs = a ? a.clientUsPerUnit + a.serverUsPerUnit : NaN;
    const droverUs = c.median.clientCpuUsPerUnit + c.median.serverCpuUsPerUnit;
    return Number.isNaN(anchorUs / droverUs) ? [] : [`${c.workers}w ${fixed(anchorUs / droverUs, 2)}`];
  });
  const loads = [...r.postgres, ...r.pglite].flatMap((c) =>
    c.runs.flatMap((x) => [x.loadAverage.start, x.loadAverage.end])
  );
  const other = [
    `1-minute load average during Drover's runs: ${fixed(Math.min(...loads), 1)} to ${fixed(Math.max(...loads), 1)} ` +
    `(${r.machine.cores} cores; bench start ${fixed(r.loadAverage.start[0], 1)}, end ${
      fixed(r.loadAverage.end[0], 1)
    })` +
    (Math.max(...loads) > r.machine.cores / 2 ? ": other processes were busy, so absolute figures are low" : ""),
    ...r.postgres.filter((c) => c.workers === 16 && c.peakRssBytes !== undefined).map((c) => {
      const p = c.workersProcess;
      const heap = p ? p.peaks.heapTotalBytes : maxOf(c.runs.map((x) => x.memoryPeaks?.heapTotalBytes));
      return `Peak RSS, 16 workers, ${fleetLabel(c.machines)} machines${
        p ? ` (a process running only them, ${fixed(p.unitsPerSecond, 0)} units/s)` : ""
      }: ${mib(c.peakRssBytes)} (< ${mib(RSS_16_WORKERS_BELOW_BYTES)}: ${
        mark((c.peakRssBytes ?? Infinity) < RSS_16_WORKERS_BELOW_BYTES)
      }; ${p ? `${mib(p.lifetimePeakRssBytes)} over its life, start-up included; ` : ""}V8 heap committed at most ${
        mib(heap)
      })`;
    }),
    ...(pglite
      ? [
        `PGlite 1 worker: ${fixed(pglite.median.unitsPerSecond, 0)} units/s (>= ${PGLITE_FLOOR_UNITS_PER_SECOND}: ${
          mark(pglite.median.unitsPerSecond >= PGLITE_FLOOR_UNITS_PER_SECOND)
        })`,
      ]
      : []),
    ...(r.anchor.asDocumented
      ? [
        `Anchor as run.sh documents it (-d anchor, pgbench debug on): ${
          r.anchor.asDocumented.median.map((a) => `${a.clients}c ${a.unitsPerSecond}`).join(", ")
        } units/s; Drover's ratio to it at ${fleetLabel(smallest)}: ${
          r.postgres.filter((c) => c.machines === smallest).map((c) => {
            const a = r.anchor.asDocumented?.median.find((x) => x.clients === c.workers)?.unitsPerSecond;
            return `${c.workers}w ${fixed(a ? c.median.unitsPerSecond / a : NaN, 2)}`;
          }).join(", ")
        }`,
      ]
      : []),
    ...(cpuRatios.length > 0
      ? [
        `CPU per unit (client + server), anchor ÷ Drover at ${fleetLabel(smallest)}: ${cpuRatios.join(", ")} ` +
        `(robust to other load; it is the ratio the runs tend to once the ${r.machine.cores} cores are saturated)`,
      ]
      : []),
    `MemoryValue set to ${r.events.fanOut.watchers} watchers: p50 ${fixed(r.events.fanOut.medianMs, 2)} ms, ` +
    `p99 ${fixed(r.events.fanOut.p99Ms, 2)} ms over ${r.events.fanOut.rounds} sets`,
    r.events.etcdBacklog
      ? `EtcdValue range backlog of ${r.events.etcdBacklog.keys} keys: median ${
        fixed(r.events.etcdBacklog.medianMs, 0)
      } ms (runs ${r.events.etcdBacklog.runs.map((x) => x.toFixed(0)).join(" / ")})`
      : "EtcdValue range backlog: not measured (etcd-server not installed)",
    ...(r.events.changeFeed
      ? [
        `Change feed (${r.events.changeFeed.mode}), ${r.events.changeFeed.workers} workers churning ${
          fixed(r.events.changeFeed.churnUnitsPerSecond, 0)
        } units/s: commit to value p50 ${fixed(r.events.changeFeed.medianMs, 1)} ms, p99 ${
          fixed(r.events.changeFeed.p99Ms, 1)
        } ms, max ${fixed(r.events.changeFeed.maxMs, 1)} ms over ${r.events.changeFeed.changes} changes`,
      ]
      : []),
    ...(r.equinix
      ? [
        `Metal API simulator, getDevice, ${r.equinix.simulator.concurrency} concurrent keep-alive clients, simulator ` +
        `${r.equinix.simulator.pinned ? "pinned to one core, load on the other" : "not pinned (no taskset)"}: ` +
        `${fixed(r.equinix.simulator.requestsPerSecond, 0)} requests/s (runs ${
          r.equinix.simulator.runs.map((x) => x.toFixed(0)).join(" / ")
        }), simulator ${fixed(r.equinix.simulator.simulatorCoreBusy * 100, 0)}% of a core busy, ` +
        `${fixed(r.equinix.simulator.requestsPerCpuSecond, 0)} requests per CPU-second`,
        `Equinix client getDevice (apiRate 0): median ${fixed(r.equinix.client.clientMedianMs, 3)} ms vs bare fetch ` +
        `${fixed(r.equinix.client.fetchMedianMs, 3)} ms: ${fixed(r.equinix.client.overheadMs, 3)} ms of its own per ` +
        `call (${r.equinix.client.calls} calls per round)`,
      ]
      : []),
    ...r.idlePolls.map((p) =>
      `Idle poll (nothing eligible) at ${fleetLabel(p.machines)} machines: median ${fixed(p.medianMs, 1)} ms ` +
      `(min ${fixed(p.minMs, 1)}, max ${fixed(p.maxMs, 1)}, ${p.polls} polls)`
    ),
    ...[...r.postgres, ...r.pglite].map((c) => {
      const busy = c.runs.reduce((n, run) => n + run.recycler.busyMs, 0);
      const seconds = c.runs.reduce((n, run) => n + run.seconds, 0);
      const deleted = c.runs.reduce((n, run) => n + run.recycler.deleted, 0);
      return `Recycler (extra work Drover pays, the anchor does not), ${c.database} ${fleetLabel(c.machines)} ` +
        `${c.workers}w: ${(busy / seconds / 10).toFixed(1)}% of wall time in DELETE, ${
          (deleted / seconds).toFixed(0)
        } rows/s`;
    }),
  ];
  const otherUnitTable = r.otherUnit.length === 0 ? [] : [
    "The other unit shape at each worker count (for comparison; targets are checked on the table above):",
    table(
      [
        "configuration",
        "workers",
        "unit",
        "units/s",
        "ratio",
        "vs above",
        "retries/100",
        "p50 ms",
        "p99 ms",
        "CPU µs/unit: client",
        "server",
      ],
      r.otherUnit.map((c) => {
        const main = r.postgres.find((x) => x.machines === c.machines && x.workers === c.workers);
        return [
          `PostgreSQL ${fleetLabel(c.machines)}`,
          String(c.workers),
          SHAPE_LABEL[c.unit],
          fixed(c.median.unitsPerSecond, 0),
          fixed(ratioToAnchor(c, anchor), 2),
          main ? `${fixed(c.median.unitsPerSecond / main.median.unitsPerSecond, 2)}x` : "-",
          fixed(c.median.retriesPer100Units, 2),
          fixed(c.median.claimP50Ms, 2),
          fixed(c.median.claimP99Ms, 2),
          fixed(c.median.clientCpuUsPerUnit, 0),
          fixed(c.median.serverCpuUsPerUnit, 0),
        ];
      }),
      (i) => i === 1 || i >= 3,
    ),
    "",
  ];
  const targets = targetsTable(r.targets);
  const m = r.machine;
  return [
    `Drover BMDB bench, ${r.timestamp} (${r.plan.quick ? "quick, " : ""}${r.plan.runs} run(s) of ${r.plan.seconds} s ` +
    `per configuration, medians; took ${r.durationSeconds.toFixed(0)} s)`,
    `${m.cpuModel}, ${m.cores} cores; Deno ${m.deno}, PostgreSQL ${m.postgresql} (fsync ${
      m.postgresSettings.fsync ?? "?"
    }), postgres.js ${m.postgresJs}, PGlite ${m.pglite}`,
    `Anchor: ${r.anchor.source.dir} (${r.anchor.source.origin})`,
    "",
    main,
    "",
    ...otherUnitTable,
    anchorTable,
    "",
    ...other,
    "",
    ...formatPeersSection(r),
    ...fleetSection(r, anchor),
    ...(r.service ? formatServiceSection(r.service) : []),
    ...(r.owned ? formatOwnedSection(r.owned) : []),
    targets,
    "",
    ...(noisy.length > 0
      ? [
        `Warning: runs disagree by more than ${NOISY_SPREAD}x (Drover's or the anchor's) for ${
          noisy.map(({ c }) => `${c.database} ${fleetLabel(c.machines)} ${c.workers}w`).join(", ")
        }: those ratios and verdicts are noise-bound; rerun on a quiet machine.`,
      ]
      : []),
    ...r.notes.map((n) => `Note: ${n}`),
  ].join("\n");
}

/** Writes the report as JSON (creating the directory). */
export async function writeReport(path: string, report: BenchReport): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
}
