/**
 * The report of `deno task bench --only peers`: the peers' section of the
 * full report, its targets, a JSON file and the chart, and nothing of the
 * parts that were not measured.
 *
 * @module
 */
import { dirname } from "node:path";
import type { BenchPlan } from "../plan.ts";
import { checkPeerTargets, checkTargets, type TargetCheck } from "../targets.ts";
import { targetsTable } from "../targets_table.ts";
import { formatPeersSection, type PeerSectionInput, unitsByWorkersChart } from "./section.ts";

/** The JSON a `--only peers` run writes. */
export interface PeersOnlyReport extends PeerSectionInput {
  durationSeconds: number;
  targets: TargetCheck[];
}

/**
 * Checks the targets that apply, prints the section and the targets, and
 * writes the JSON (`plan.outPath`) and the chart (`plan.chartPath`).
 */
export async function writePeersOnlyReport(
  input: Omit<PeerSectionInput, "plan"> & { plan: BenchPlan; durationSeconds: number },
): Promise<PeersOnlyReport> {
  const { outPath, chartPath, ...plan } = input.plan;
  const anchor = new Map(input.anchor.median.map((a) => [a.clients, a.unitsPerSecond]));
  const targets = [
    ...checkTargets({ anchorUnitsPerSecond: anchor, postgres: input.postgres, pglite: [] }),
    ...(input.peers ? checkPeerTargets(input.postgres, input.peers) : []),
  ];
  const report: PeersOnlyReport = { ...input, plan, targets };
  console.log([
    `Drover bench, --only peers, ${report.timestamp} (${report.plan.quick ? "quick, " : ""}${report.plan.runs} ` +
    `run(s) of ${report.plan.seconds} s; took ${report.durationSeconds.toFixed(0)} s)`,
    "",
    ...formatPeersSection(report),
    targetsTable(targets),
  ].join("\n"));
  await Deno.mkdir(dirname(outPath), { recursive: true });
  await Deno.writeTextFile(outPath, JSON.stringify(report, null, 2) + "\n");
  await Deno.writeTextFile(chartPath, unitsByWorkersChart(report));
  return report;
}
