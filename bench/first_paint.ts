/**
 * Issue 7: the dashboard's first paint, in headless Chromium
 * (tests/harness/browser.ts: Debian's /usr/bin/chromium through
 * playwright-core, a fresh profile per run, so every run is a first visit
 * with an empty cache).
 *
 * Each run opens `/machines?token=<admin token>` (the login: the server sets
 * the cookie and redirects to `/machines`) and reads, relative to the
 * navigation's start (`performance.timeOrigin`, before the redirect):
 * - the first contentful paint (the Paint Timing API), and
 * - the first rows of the Machines view: a MutationObserver, installed
 *   before the page's scripts run, notes when the Machines table's first
 *   body row enters the DOM (the paint follows within a frame).
 *
 * @module
 */
import { chromiumBinary, launchBrowser } from "../tests/harness/browser.ts";
import { median } from "./percentile.ts";

export interface FirstPaintRun {
  /** Navigation start to the first contentful paint. */
  firstContentfulPaintMs: number;
  /** Navigation start to the Machines table's first row in the DOM. */
  firstRowsMs: number;
}

export interface FirstPaintResult {
  runs: FirstPaintRun[];
  median: FirstPaintRun;
  worst: FirstPaintRun;
}

/** Runs in the page before its own scripts: records when the Machines table's first row appears. */
function watchForFirstRow(): void {
  const w = globalThis as unknown as { __firstRowsAt?: number };
  const selector = 'table[aria-label="Machines"] tbody tr';
  const observer = new MutationObserver(() => {
    if (w.__firstRowsAt === undefined && document.querySelector(selector)) {
      w.__firstRowsAt = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true });
}

/** Whether Chromium is there to measure with. */
export function firstPaintAvailable(): boolean {
  return chromiumBinary() !== undefined;
}

async function once(baseUrl: string, token: string): Promise<FirstPaintRun> {
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  await page.addInitScript(watchForFirstRow);
  await page.goto(`${baseUrl}/machines?token=${encodeURIComponent(token)}`);
  const handle = await page.waitForFunction(
    () => {
      const w = globalThis as unknown as { __firstRowsAt?: number };
      const fcp = performance.getEntriesByName("first-contentful-paint")[0]?.startTime;
      return w.__firstRowsAt !== undefined && fcp !== undefined ? { fcp, rows: w.__firstRowsAt } : false;
    },
    undefined,
    { timeout: 30_000 },
  );
  const { fcp, rows } = await handle.jsonValue() as { fcp: number; rows: number };
  const problems = browser.problems(page);
  if (problems.length > 0) throw new Error(`the dashboard reported problems: ${problems.join("; ")}`);
  return { firstContentfulPaintMs: fcp, firstRowsMs: rows };
}

/** `runs` first visits of the Machines view. */
export async function measureFirstPaint(baseUrl: string, token: string, runs: number): Promise<FirstPaintResult> {
  const results: FirstPaintRun[] = [];
  for (let i = 0; i < runs; i++) results.push(await once(baseUrl, token));
  const of = (pick: (r: FirstPaintRun) => number) => median(results.map(pick));
  const worst = (pick: (r: FirstPaintRun) => number) => Math.max(...results.map(pick));
  return {
    runs: results,
    median: { firstContentfulPaintMs: of((r) => r.firstContentfulPaintMs), firstRowsMs: of((r) => r.firstRowsMs) },
    worst: {
      firstContentfulPaintMs: worst((r) => r.firstContentfulPaintMs),
      firstRowsMs: worst((r) => r.firstRowsMs),
    },
  };
}
