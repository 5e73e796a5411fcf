/**
 * `deno task bench --only owned`: "Machines you own" alone, its section and
 * targets printed, and its result merged into a report written earlier (by
 * default bench/results/latest.json): the `owned` figures, the section's
 * targets and its note are replaced, everything else is kept as it was. A
 * report that does not exist yet is written with this section alone.
 *
 * @module
 */
import { dirname } from "node:path";
import type { PostgresServer } from "../tests/harness/postgres.ts";
import type { BenchPlan } from "./plan.ts";
import type { BenchReport } from "./report.ts";
import { measureOwnedMachines, type OwnedMachinesResult, ownedSettings } from "./owned_machines.ts";
import { formatOwnedSection, OWNED_NOTE } from "./owned_report.ts";
import { checkOwnedTargets } from "./owned_targets.ts";
import type { TargetCheck } from "./targets.ts";
import { targetsTable } from "./targets_table.ts";

/** What every subject of the section's targets starts with (see owned_targets.ts). */
const SUBJECT_PREFIX = "Machines you own";

/** The file `--only owned` writes when there is no report to merge into. */
export interface OwnedOnlyReport {
  timestamp: string;
  durationSeconds: number;
  owned: OwnedMachinesResult;
  targets: TargetCheck[];
  notes: string[];
}

/** `report` with the section's result, targets and note replaced by these. */
export function mergeOwned(report: BenchReport, owned: OwnedMachinesResult, targets: TargetCheck[]): BenchReport {
  return {
    ...report,
    owned,
    targets: [...report.targets.filter((t) => !t.subject.startsWith(SUBJECT_PREFIX)), ...targets],
    notes: [...report.notes.filter((n) => n !== OWNED_NOTE && !n.startsWith(`${SUBJECT_PREFIX}:`)), OWNED_NOTE],
  };
}

async function readReport(path: string): Promise<BenchReport | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as Partial<BenchReport>;
  // A report of the whole bench has targets and notes; anything else is replaced.
  return Array.isArray(parsed.targets) && Array.isArray(parsed.notes) ? parsed as BenchReport : undefined;
}

/**
 * Measures the section on `server`, prints it with its targets, and merges
 * it into `plan.outPath` (see the module doc).
 */
export async function runOwnedOnly(
  server: PostgresServer,
  plan: BenchPlan,
  progress: (line: string) => void,
): Promise<void> {
  const startedAt = performance.now();
  const owned = await measureOwnedMachines(server, ownedSettings(plan.quick), progress);
  const targets = checkOwnedTargets(owned);
  console.log([
    `Drover bench, --only owned, ${owned.measuredAt} (${plan.quick ? "quick; " : ""}took ${
      ((performance.now() - startedAt) / 1000).toFixed(0)
    } s)`,
    "",
    ...formatOwnedSection(owned),
    targetsTable(targets),
  ].join("\n"));
  const earlier = await readReport(plan.outPath);
  const merged: BenchReport | OwnedOnlyReport = earlier ? mergeOwned(earlier, owned, targets) : {
    timestamp: owned.measuredAt,
    durationSeconds: (performance.now() - startedAt) / 1000,
    owned,
    targets,
    notes: [OWNED_NOTE],
  };
  await Deno.mkdir(dirname(plan.outPath), { recursive: true });
  await Deno.writeTextFile(plan.outPath, JSON.stringify(merged, null, 2) + "\n");
  progress(`${earlier ? "merged into" : "wrote"} ${plan.outPath}`);
}
