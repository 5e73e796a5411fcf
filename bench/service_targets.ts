/**
 * Issues 7 and 8's speed targets, and the check of a run's service figures
 * against them. Quick runs check the same rules on their smaller fleet and
 * fewer clients; each subject says what was measured.
 *
 * @module
 */
import { fleetLabel, type TargetCheck } from "./targets.ts";
import type { ServiceFigures } from "./service_figures.ts";

/** Issue 7: GET /api/v1/machines (each page and search case) stays under this at p99, at 100,000 machines. */
export const ADMIN_API_P99_BELOW_MS = 50;
/** Issue 7: the dashboard's first paint (navigation start to first contentful paint), the median of first visits. */
export const FIRST_PAINT_BELOW_MS = 1000;
/** Issue 7: an update reaches every one of 200 event streams within this at p99. */
export const SSE_P99_BELOW_MS = 500;
/** Issues 7 and 8: the server process (PostgreSQL mode) stays under this RSS. */
export const SERVER_RSS_BELOW_BYTES = 200 * 2 ** 20;
/** Issue 8: `deno task start` from an empty data dir to the first heartbeating machine, the median of the starts. */
export const EMBEDDED_FIRST_HEARTBEAT_BELOW_MS = 10_000;
/** Issue 8: an idle replica in production mode uses less than this share of a core. */
export const IDLE_CPU_BELOW_PERCENT = 2;
/** DESIGN.md: the embedded service (PGlite holds 500-850 MB of its own) stays under this RSS. */
export const EMBEDDED_RSS_BELOW_BYTES = 1024 * 2 ** 20;

function mibs(bytes: number): number {
  return bytes / 2 ** 20;
}

/** Checks every target of issues 7 and 8 that the run measured. */
export function checkServiceTargets(r: ServiceFigures): TargetCheck[] {
  const fleet = fleetLabel(r.admin.machines);
  const checks: TargetCheck[] = r.admin.api.map((c) => ({
    subject: `Admin API, ${fleet} machines, ${c.name}: p99 ms`,
    rule: `< ${ADMIN_API_P99_BELOW_MS}`,
    value: c.p99Ms,
    met: c.p99Ms < ADMIN_API_P99_BELOW_MS,
  }));
  const paint = r.admin.firstPaint;
  if (paint) {
    checks.push({
      subject: `Dashboard first visit, ${fleet} machines: first contentful paint ms (median)`,
      rule: `< ${FIRST_PAINT_BELOW_MS}`,
      value: paint.median.firstContentfulPaintMs,
      met: paint.median.firstContentfulPaintMs < FIRST_PAINT_BELOW_MS,
    });
    checks.push({
      subject: `Dashboard first visit, ${fleet} machines: Machines view's first rows ms (median)`,
      rule: `< ${FIRST_PAINT_BELOW_MS}`,
      value: paint.median.firstRowsMs,
      met: paint.median.firstRowsMs < FIRST_PAINT_BELOW_MS,
    });
  }
  const sse = r.admin.sse;
  const serverRss = Math.max(r.admin.serverRssPeakBytes, r.admin.serverLifetimePeakRssBytes);
  const production = r.production;
  const productionRss = Math.max(production.idle.rssPeakBytes, production.lifetimePeakRssBytes);
  const embedded = r.embedded;
  const embeddedRss = Math.max(embedded.idle.rssPeakBytes, embedded.lifetimePeakRssBytes);
  checks.push(
    {
      subject: `Event stream, ${sse.clients} clients: commit to arrival p99 ms`,
      rule: `< ${SSE_P99_BELOW_MS}`,
      value: sse.p99Ms,
      met: sse.p99Ms < SSE_P99_BELOW_MS,
    },
    {
      subject: `Admin server (API, events, dashboard), ${fleet} machines: peak RSS MiB`,
      rule: `< ${mibs(SERVER_RSS_BELOW_BYTES)}`,
      value: mibs(serverRss),
      met: serverRss < SERVER_RSS_BELOW_BYTES,
    },
    {
      subject: "Embedded start to the first heartbeating machine: s (median)",
      rule: `< ${EMBEDDED_FIRST_HEARTBEAT_BELOW_MS / 1000}`,
      value: embedded.median.firstHeartbeatMs / 1000,
      met: embedded.median.firstHeartbeatMs < EMBEDDED_FIRST_HEARTBEAT_BELOW_MS,
    },
    {
      subject: `Production replica idle (${production.machines} machines heartbeating): CPU % of a core`,
      rule: `< ${IDLE_CPU_BELOW_PERCENT}`,
      value: production.idle.cpuPercent,
      met: production.idle.cpuPercent < IDLE_CPU_BELOW_PERCENT,
    },
    {
      subject: "Production replica: peak RSS MiB",
      rule: `< ${mibs(SERVER_RSS_BELOW_BYTES)}`,
      value: mibs(productionRss),
      met: productionRss < SERVER_RSS_BELOW_BYTES,
    },
    {
      subject: "Embedded service: peak RSS MiB",
      rule: `< ${mibs(EMBEDDED_RSS_BELOW_BYTES)}`,
      value: mibs(embeddedRss),
      met: embeddedRss < EMBEDDED_RSS_BELOW_BYTES,
    },
  );
  return checks;
}
