/**
 * The terminal report's section on issues 7 and 8: the admin API's latency
 * per case, the dashboard's first paint, the event stream's fan-out, the
 * server's memory, and the service's start and idle figures.
 *
 * @module
 */
import type { ServiceFigures } from "./service_figures.ts";
import {
  ADMIN_API_P99_BELOW_MS,
  EMBEDDED_FIRST_HEARTBEAT_BELOW_MS,
  EMBEDDED_RSS_BELOW_BYTES,
  FIRST_PAINT_BELOW_MS,
  IDLE_CPU_BELOW_PERCENT,
  SERVER_RSS_BELOW_BYTES,
  SSE_P99_BELOW_MS,
} from "./service_targets.ts";
import { fleetLabel } from "./targets.ts";
import { table } from "./text_table.ts";

function mark(met: boolean): string {
  return met ? "met" : "MISSED";
}

function ms(n: number, digits = 0): string {
  return Number.isNaN(n) ? "-" : n.toFixed(digits);
}

function s(milliseconds: number): string {
  return ms(milliseconds / 1000, 1);
}

function mib(bytes: number): string {
  return Number.isNaN(bytes) ? "-" : (bytes / 2 ** 20).toFixed(0);
}

/** The section's lines (a blank line last). */
export function formatServiceSection(r: ServiceFigures): string[] {
  const a = r.admin;
  const fleet = fleetLabel(a.machines);
  const lines = [
    `Admin API (issue 7): GET /api/v1/machines on PostgreSQL, ${fleet} machines, server in its own process; ` +
    `${r.plan.apiRequests} requests per case, one at a time, after ${r.plan.apiWarmup} untimed:`,
    table(
      ["case", "query (first of the cycle)", "rows", "p50 ms", "p99 ms", "max ms", `p99 < ${ADMIN_API_P99_BELOW_MS}`],
      a.api.map((c) => [
        c.name,
        c.example,
        String(c.rows),
        ms(c.p50Ms, 1),
        ms(c.p99Ms, 1),
        ms(c.maxMs, 1),
        mark(c.p99Ms < ADMIN_API_P99_BELOW_MS),
      ]),
      (i) => i >= 2 && i <= 5,
    ),
  ];
  const paint = a.firstPaint;
  lines.push(
    paint
      ? `Dashboard first visit (Chromium, fresh profile, /machines?token=…), ${paint.runs.length} runs: first ` +
        `contentful paint median ${ms(paint.median.firstContentfulPaintMs)} ms (worst ` +
        `${ms(paint.worst.firstContentfulPaintMs)}; < ${FIRST_PAINT_BELOW_MS}: ` +
        `${mark(paint.median.firstContentfulPaintMs < FIRST_PAINT_BELOW_MS)}), Machines view's first rows median ` +
        `${ms(paint.median.firstRowsMs)} ms (worst ${ms(paint.worst.firstRowsMs)}; < ${FIRST_PAINT_BELOW_MS}: ` +
        `${mark(paint.median.firstRowsMs < FIRST_PAINT_BELOW_MS)})`
      : "Dashboard first paint: not measured (Chromium not installed)",
  );
  const sse = a.sse;
  lines.push(
    `Event stream: ${sse.clients} clients in another process (all connected in ${ms(sse.connectMs)} ms), ` +
      `${sse.updates} updates (work claimed and released through the BMDB): commit to arrival p50 ${ms(sse.p50Ms)} ` +
      `ms, p99 ${ms(sse.p99Ms)} ms (< ${SSE_P99_BELOW_MS}: ${mark(sse.p99Ms < SSE_P99_BELOW_MS)}), max ` +
      `${ms(sse.maxMs)} ms; the slowest client per update: median ${ms(sse.lastClientMedianMs)} ms, worst ` +
      `${ms(sse.lastClientMaxMs)} ms; the clients' process used ${ms(sse.clientsCpuMs)} ms of CPU`,
  );
  const serverRss = Math.max(a.serverRssPeakBytes, a.serverLifetimePeakRssBytes);
  lines.push(
    `Admin server RSS during all of the above: peak ${mib(a.serverRssPeakBytes)} MiB sampled, ` +
      `${mib(a.serverLifetimePeakRssBytes)} MiB VmHWM (< ${mib(SERVER_RSS_BELOW_BYTES)}: ` +
      `${mark(serverRss < SERVER_RSS_BELOW_BYTES)})`,
  );
  const p = r.production;
  const productionRss = Math.max(p.idle.rssPeakBytes, p.lifetimePeakRssBytes);
  lines.push(
    `Production replica (issue 8; PostgreSQL, a standalone simulator, ${p.machines} machines heartbeating, the ` +
      `defaults): idle over ${ms(p.idle.seconds)} s: CPU ${ms(p.idle.cpuPercent, 2)}% of a core ` +
      `(< ${IDLE_CPU_BELOW_PERCENT}: ${mark(p.idle.cpuPercent < IDLE_CPU_BELOW_PERCENT)}), RSS ` +
      `${mib(p.idle.rssEndBytes)} MiB at the end, ${mib(productionRss)} MiB peak (< ${mib(SERVER_RSS_BELOW_BYTES)}: ` +
      `${mark(productionRss < SERVER_RSS_BELOW_BYTES)}); ${ms(p.transactionsPerSecond, 1)} transactions/s in its ` +
      `database, ${ms(p.agentRequestsPerSecond, 1)} agent requests/s; bring-up ${s(p.bringUpMs)} s, restart to ` +
      `serving ${s(p.restartLoginMs)} s`,
  );
  const e = r.embedded;
  const embeddedRss = Math.max(e.idle.rssPeakBytes, e.lifetimePeakRssBytes);
  lines.push(
    `Embedded (deno task start on an empty data dir), ${e.runs.length} start(s), medians: login line ` +
      `${s(e.median.loginMs)} s, first heartbeating machine ${s(e.median.firstHeartbeatMs)} s (runs ` +
      `${e.runs.map((x) => s(x.firstHeartbeatMs)).join(" / ")}; < ${EMBEDDED_FIRST_HEARTBEAT_BELOW_MS / 1000}: ` +
      `${mark(e.median.firstHeartbeatMs < EMBEDDED_FIRST_HEARTBEAT_BELOW_MS)}), all ${e.machines} ` +
      `${s(e.median.allHeartbeatingMs)} s; idle over ${ms(e.idle.seconds)} s: CPU ${ms(e.idle.cpuPercent, 2)}% of a ` +
      `core, RSS ${mib(e.idle.rssEndBytes)} MiB at the end, ${mib(embeddedRss)} MiB peak (< ` +
      `${mib(EMBEDDED_RSS_BELOW_BYTES)}: ${mark(embeddedRss < EMBEDDED_RSS_BELOW_BYTES)})`,
    "",
  );
  return lines;
}
