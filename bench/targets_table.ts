/**
 * The checked targets as the bench prints them: one row per target, its
 * rule, the value measured and whether it was met.
 *
 * @module
 */
import type { TargetCheck } from "./targets.ts";
import { table } from "./text_table.ts";

/** The table of `targets` (value to 2 decimals, "-" when not measured; "met" or "MISSED"). */
export function targetsTable(targets: readonly TargetCheck[]): string {
  return table(
    ["target", "rule", "value", "status"],
    targets.map((t) => [t.subject, t.rule, Number.isNaN(t.value) ? "-" : t.value.toFixed(2), t.met ? "met" : "MISSED"]),
    (i) => i === 2,
  );
}
