/**
 * Real Chromium for dashboard tests (playwright-core driving Debian's
 * `/usr/bin/chromium`): a fresh temporary profile per launch, removed on
 * close, and a record of the console errors and page errors each page
 * produced.
 *
 * ```ts
 * if (serviceAvailable(chromiumRequirement)) {
 *   Deno.test("...", async () => {
 *     await using browser = await launchBrowser();
 *     const page = await browser.newPage();
 *     await page.goto(url);
 *     assert.deepEqual(browser.problems(page), []);
 *   });
 * }
 * ```
 *
 * @module
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { fileExists, type ServiceRequirement } from "./requirements.ts";

const DEFAULT_BINARY = "/usr/bin/chromium";

/** The Chromium binary: `$CHROMIUM_BIN`, else Debian's. */
export function chromiumBinary(): string | undefined {
  return [Deno.env.get("CHROMIUM_BIN"), DEFAULT_BINARY].find((path): path is string => !!path && fileExists(path));
}

/** Chromium, as a test requirement. */
export const chromiumRequirement: ServiceRequirement = {
  name: "Chromium",
  install: "apt-get install -y chromium (or set CHROMIUM_BIN to a Chromium binary)",
  probe: () => chromiumBinary() ? undefined : `${DEFAULT_BINARY} is missing and CHROMIUM_BIN is not set`,
};

/** Sizes the dashboard must be readable at. */
export const VIEWPORTS = {
  desktop: { width: 1280, height: 800 },
  phone: { width: 390, height: 844 },
} as const;

/** Flags for a headless Chromium in a container with no network beyond loopback. */
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface LaunchBrowserOptions {
  viewport?: { width: number; height: number };
}

/** A running Chromium with one persistent context. */
export interface TestBrowser extends AsyncDisposable {
  context: BrowserContext;
  /** A new page whose console errors and page errors are recorded. */
  newPage(): Promise<Page>;
  /** What went wrong on `page` so far: console errors and uncaught exceptions, as text. */
  problems(page: Page): string[];
  /** Closes Chromium and removes its profile. Idempotent. */
  close(): Promise<void>;
}

/** Launches Chromium with a fresh profile. */
export async function launchBrowser(options: LaunchBrowserOptions = {}): Promise<TestBrowser> {
  const executablePath = chromiumBinary();
  if (!executablePath) throw new Error(`Chromium not found: ${chromiumRequirement.probe()}`);
  const profile = await Deno.makeTempDir({ prefix: "drover-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      viewport: options.viewport ?? VIEWPORTS.desktop,
      args: ARGS,
    });
  } catch (error) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw error;
  }
  const problems = new WeakMap<Page, string[]>();
  const watch = (page: Page) => {
    const list: string[] = [];
    problems.set(page, list);
    page.on("console", (message) => {
      if (message.type() === "error") list.push(`console error: ${message.text()} (${message.location().url})`);
    });
    page.on("pageerror", (error) => list.push(`page error: ${error.message}`));
    return page;
  };
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await context.close().catch(() => {});
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    })();
  return {
    context,
    async newPage() {
      // The persistent context opens with one blank page: use it first.
      const blank = context.pages().find((p) => p.url() === "about:blank" && !problems.has(p));
      return watch(blank ?? await context.newPage());
    },
    problems: (page) => [...(problems.get(page) ?? [])],
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Where screenshots go (git-ignored). */
export const ARTIFACTS_DIR = new URL("../artifacts/", import.meta.url);

/** Saves a full-page screenshot as `tests/artifacts/<name>.png`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = decodeURIComponent(new URL(`${name}.png`, ARTIFACTS_DIR).pathname);
  await page.screenshot({ path, fullPage: true });
  return path;
}
