/**
 * Issue 9's part of the bench report: Drover beside pgbench TPC-B, the
 * anchor, graphile-worker and pg-boss, as a terminal table and as the chart
 * bench/results/units-by-workers.svg.
 *
 * @module
 */
import { lineChartSvg } from "../chart.ts";
import type { BenchReport } from "../report.ts";
import { fleetLabel, PEER_RATIO_AT_LEAST, PEER_TARGET_MACHINES } from "../targets.ts";
import { table } from "../text_table.ts";
import { type PeerName, PEERS } from "./install.ts";
import type { ServerProfile } from "../server_profile.ts";
import { summarizeWaits } from "../wait_events.ts";

/** What the section reads of a bench report (a `--only peers` run has no more). */
export type PeerSectionInput = Pick<
  BenchReport,
  "timestamp" | "plan" | "machine" | "anchor" | "postgres" | "tpcb" | "peers"
>;

function fixed(n: number | undefined, digits: number): string {
  return n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

/** The figures per worker count that the table and the chart share. */
function figures(r: PeerSectionInput) {
  const drover = (machines: number, workers: number) =>
    r.postgres.find((c) => c.machines === machines && c.workers === workers)?.median.unitsPerSecond;
  const peer = (name: PeerName, workers: number) =>
    r.peers?.configurations.find((c) => c.peer === name && c.workers === workers)?.median.jobsPerSecond;
  const anchor = (workers: number) => r.anchor.median.find((a) => a.clients === workers)?.unitsPerSecond;
  const tpcb = (workers: number) => r.tpcb?.median.find((t) => t.clients === workers)?.transactionsPerSecond;
  const fleets = [...new Set(r.postgres.map((c) => c.machines))].sort((a, b) => a - b);
  return { drover, peer, anchor, tpcb, fleets, workerCounts: r.plan.workerCounts };
}

function ratioCell(drover: number | undefined, other: number | undefined, atLeast?: number): string {
  if (drover === undefined || other === undefined) return "-";
  const ratio = drover / other;
  return atLeast === undefined
    ? fixed(ratio, 2)
    : `${fixed(ratio, 2)} (>= ${atLeast.toFixed(1)} ${ratio >= atLeast ? "met" : "MISSED"})`;
}

/** A row of the server profile: the backends' time (sampled) and the WAL per unit (job). */
function profileRow(what: string, workers: number, profile?: ServerProfile): string[] {
  const w = profile && summarizeWaits(profile.waits);
  const wal = profile?.wal;
  const share = (state: string) => w?.shares.find(([s]) => s === state)?.[1];
  const pct = (n: number | undefined) => n === undefined || !Number.isFinite(n) ? "-" : `${(n * 100).toFixed(0)}%`;
  return [
    what,
    String(workers),
    fixed(w?.activeBackends, 2),
    pct(w ? share("CPU") ?? 0 : undefined),
    w?.shares.filter(([s, n]) => s !== "CPU" && n >= 0.02).slice(0, 3).map(([s, n]) => `${s} ${pct(n)}`).join(", ") ||
    "-",
    fixed(wal?.records, 1),
    fixed(wal?.bytes, 0),
    fixed(wal?.syncs, 2),
  ];
}

/** The terminal section; empty when neither the peers nor TPC-B were measured. */
export function formatPeersSection(r: PeerSectionInput): string[] {
  if (!r.peers && !r.tpcb) return [];
  const f = figures(r);
  const versions = r.peers ? PEERS.map((p) => `${p} ${r.peers?.versions[p]}`).join(", ") : "peers not measured";
  const ratios = f.fleets.flatMap((machines) =>
    f.workerCounts.map((workers) => {
      const d = f.drover(machines, workers);
      const checked = machines === PEER_TARGET_MACHINES;
      return [
        `Drover ${fleetLabel(machines)}`,
        String(workers),
        fixed(d, 0),
        fixed(f.peer("graphile-worker", workers), 0),
        fixed(f.peer("pg-boss", workers), 0),
        fixed(f.anchor(workers), 0),
        fixed(f.tpcb(workers), 0),
        ratioCell(d, f.tpcb(workers)),
        ratioCell(d, f.anchor(workers)),
        ratioCell(
          d,
          f.peer("graphile-worker", workers),
          checked ? PEER_RATIO_AT_LEAST["graphile-worker"][workers] : undefined,
        ),
        ratioCell(d, f.peer("pg-boss", workers), checked ? PEER_RATIO_AT_LEAST["pg-boss"][workers] : undefined),
      ];
    })
  );
  const cost: string[][] = [];
  const profile: string[][] = [];
  for (const workers of f.workerCounts) {
    const d = r.postgres.find((c) => c.machines === PEER_TARGET_MACHINES && c.workers === workers);
    if (d) profile.push(profileRow(`Drover ${fleetLabel(d.machines)} (${d.unit})`, workers, d.server));
    for (const c of r.peers?.configurations.filter((c) => c.workers === workers) ?? []) {
      profile.push(profileRow(c.peer, workers, c.server));
    }
    if (d) {
      cost.push([
        `Drover ${fleetLabel(d.machines)} (units)`,
        String(workers),
        fixed(d.median.unitsPerSecond, 0),
        d.runs.map((x) => x.unitsPerSecond.toFixed(0)).join(" / "),
        "-",
        `${fixed(d.median.retriesPer100Units, 2)}/100`,
        fixed(d.median.clientCpuUsPerUnit, 0),
        fixed(d.median.serverCpuUsPerUnit, 0),
      ]);
    }
    for (const c of r.peers?.configurations.filter((c) => c.workers === workers) ?? []) {
      cost.push([
        `${c.peer} (jobs)`,
        String(workers),
        fixed(c.median.jobsPerSecond, 0),
        c.runs.map((x) => x.jobsPerSecond.toFixed(0)).join(" / "),
        String(c.errors),
        String(c.retries),
        fixed(c.median.clientCpuUsPerJob, 0),
        fixed(c.median.serverCpuUsPerJob, 0),
      ]);
    }
    const t = r.tpcb?.median.find((x) => x.clients === workers);
    if (t && r.tpcb) {
      cost.push([
        "pgbench TPC-B (transactions)",
        String(workers),
        fixed(t.transactionsPerSecond, 0),
        r.tpcb.runs.map((run) => fixed(run.find((x) => x.clients === workers)?.transactionsPerSecond, 0)).join(" / "),
        String(t.failed),
        "-",
        fixed(t.cpu?.clientUsPerTransaction, 0),
        fixed(t.cpu?.serverUsPerTransaction, 0),
      ]);
    }
  }
  return [
    `Peers (issue 9): Drover's units/s beside pgbench TPC-B${
      r.tpcb ? ` (scale ${r.tpcb.scale})` : ""
    }, the anchor, and ${versions}${r.peers ? ` under Node.js ${r.peers.node}` : ""}; ` +
    `each peer on a fresh database, one job per fetch, ${r.plan.runs} run(s) of ${r.plan.seconds} s, medians`,
    table(
      [
        "fleet",
        "workers",
        "units/s",
        "graphile-worker jobs/s",
        "pg-boss jobs/s",
        "anchor",
        "TPC-B tps",
        "÷ TPC-B",
        "÷ anchor",
        "÷ graphile-worker",
        "÷ pg-boss",
      ],
      ratios,
      (i) => i >= 1 && i <= 8,
    ),
    "",
    table(
      ["what", "workers", "per second", "runs", "errors", "retries", "CPU µs each: client", "server"],
      cost,
      (i) => i !== 0 && i !== 3,
    ),
    "",
    "Where the server's time goes: backends running a statement (sampled from pg_stat_activity every 50 ms), the " +
    "share of those samples on the CPU and the largest waits (Lock:object, here: the lock a transaction that sent NOTIFY holds " +
    "from its commit until its commit record is flushed; IO:WALSync: a WAL flush; LWLock:WALWrite: waiting for " +
    "another backend's flush), and the WAL per unit or job (pg_stat_wal; flushes below 1 are shared commits)",
    table(
      ["what", "workers", "active", "on CPU", "largest waits", "WAL records", "WAL bytes", "WAL flushes"],
      profile,
      (i) => i === 1 || i === 2 || i === 3 || i >= 5,
    ),
    "",
  ];
}

const COLORS = {
  drover: "#1f5fbf",
  droverLarge: "#7aa6e8",
  graphileWorker: "#e07b00",
  pgBoss: "#c0392b",
  anchor: "#666666",
  tpcb: "#2e8b57",
};

/** bench/results/units-by-workers.svg: units (jobs, transactions) per second by worker count, every series. */
export function unitsByWorkersChart(r: PeerSectionInput): string {
  const f = figures(r);
  const by = (value: (workers: number) => number | undefined) => f.workerCounts.map(value);
  const [small, large] = [f.fleets[0], f.fleets[f.fleets.length - 1]];
  return lineChartSvg({
    title: "Work units per second by worker count",
    subtitle: `${r.timestamp.slice(0, 16).replace("T", " ")} UTC, ${r.plan.quick ? "quick" : "full"} run ` +
      `(${r.plan.runs} × ${r.plan.seconds} s, medians); ${r.machine.cores} cores, PostgreSQL ` +
      `${r.machine.postgresql.split(" ")[0]}, fsync ${r.machine.postgresSettings.fsync ?? "?"}`,
    xLabel: "workers (pgbench: clients), log scale",
    yLabel: "per second: units, jobs, transactions",
    categories: f.workerCounts.map(String),
    series: [
      { label: `Drover ${fleetLabel(small)}`, values: by((w) => f.drover(small, w)), color: COLORS.drover },
      ...(large !== small
        ? [{ label: `Drover ${fleetLabel(large)}`, values: by((w) => f.drover(large, w)), color: COLORS.droverLarge }]
        : []),
      ...(r.peers
        ? [
          {
            label: `graphile-worker ${r.peers.versions["graphile-worker"]}`,
            values: by((w) => f.peer("graphile-worker", w)),
            color: COLORS.graphileWorker,
          },
          {
            label: `pg-boss ${r.peers.versions["pg-boss"]}`,
            values: by((w) => f.peer("pg-boss", w)),
            color: COLORS.pgBoss,
          },
        ]
        : []),
      { label: "anchor (pgbench)", values: by(f.anchor), color: COLORS.anchor, dashed: true },
      ...(r.tpcb ? [{ label: "pgbench TPC-B", values: by(f.tpcb), color: COLORS.tpcb, dashed: true }] : []),
    ],
  });
}
