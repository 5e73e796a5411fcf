/**
 * The terminal report's section on issue 29: the one executable's size and
 * starts beside `deno task start`'s (bench/embedded_start.ts), in one table.
 *
 * @module
 */
import type { EmbeddedResult, EmbeddedStartRun } from "./embedded_start.ts";
import type { ExecutableFigures } from "./executable_start.ts";
import { table } from "./text_table.ts";

function seconds(ms: number): string {
  return Number.isNaN(ms) ? "-" : (ms / 1000).toFixed(1);
}

function mib(bytes: number): string {
  return Number.isNaN(bytes) ? "-" : (bytes / 2 ** 20).toFixed(0);
}

/** The section's lines (a blank line last); `embedded` is deno task start's figures from the same run. */
export function formatExecutableSection(e: ExecutableFigures, embedded: EmbeddedResult): string[] {
  const row = (name: string, run: EmbeddedStartRun, rss?: { idle: number; peak: number }) => [
    name,
    seconds(run.loginMs),
    seconds(run.firstHeartbeatMs),
    seconds(run.allHeartbeatingMs),
    rss ? mib(rss.idle) : "",
    rss ? mib(rss.peak) : "",
  ];
  const rssOf = (r: { idle: EmbeddedResult["idle"]; lifetimePeakRssBytes: number }) => ({
    idle: r.idle.rssEndBytes,
    peak: Math.max(r.idle.rssPeakBytes, r.lifetimePeakRssBytes),
  });
  return [
    `One executable (issue 29): ${mib(e.bytes)} MiB (built in ${e.buildSeconds.toFixed(0)} s), unpacked on its first ` +
    `start into ${
      mib(e.unpackedBytes)
    } MiB; starts from an empty data dir (embedded, no demo), seconds from the spawn:`,
    table(
      ["", "login line", "first heartbeat", `all ${embedded.machines}`, "idle RSS MiB", "peak RSS MiB"],
      [
        row(`deno task start (median of ${embedded.runs.length})`, embedded.median, rssOf(embedded)),
        row("drover start, first (unpacks)", e.firstStart),
        row(`drover start, later (median of ${e.laterStarts.length})`, e.laterMedian, rssOf(e)),
      ],
      (i) => i > 0,
    ),
    "",
  ];
}
