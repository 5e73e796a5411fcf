/**
 * The dashboard in real Chromium against the real admin API, event stream
 * and BMDB: every view after login, live rows without reload, "Cancel work"
 * and "Retry" end to end, search and paging through the URL, pause and
 * resume, the read-only token, and no console errors anywhere. Screenshots
 * of each view at desktop and phone size go to tests/artifacts/.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { Process, Provider, ProviderStatus, type Session, type Work } from "../../bmdb/mod.ts";
import { uiRoutes } from "../../server/ui_routes.ts";
import { type AdminServer, startAdminServer } from "../harness/admin_server.ts";
import { bmdbTest, type DriverName, type TestBmdb, testDrivers } from "../harness/bmdb.ts";
import { chromiumRequirement, launchBrowser, screenshot, type TestBrowser, VIEWPORTS } from "../harness/browser.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { startTcpProxy } from "../harness/tcp_proxy.ts";
import { aborted, within } from "../harness/wait.ts";
import { builtUi } from "./ui_assets.ts";

const BACKOFF = { initialSeconds: 300, maximumSeconds: 300, exponent: 2 };
const HEADINGS = ["Overview", "Sessions", "Active work", "Backoffs", "Machines", "Reservations"] as const;
const PATHS: Record<typeof HEADINGS[number], string> = {
  Overview: "/",
  Sessions: "/sessions",
  "Active work": "/work",
  Backoffs: "/backoffs",
  Machines: "/machines",
  Reservations: "/reservations",
};

/** The browser tests need one database, not each: PostgreSQL when there is one (as in production). */
const DRIVERS: DriverName[] = serviceAvailable(chromiumRequirement) ? testDrivers().slice(-1) : [];

function dashboardTest(name: string, fn: (t: TestBmdb) => Promise<void>): void {
  bmdbTest(name, fn, { drivers: DRIVERS });
}

/** `n` running machines at `10.<net>.<i / 250>.<i % 250>` in metro sv. */
async function addMachines(session: Session, n: number, net = 3): Promise<string[]> {
  return await session.transact(async (q) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { machineId } = await q.newMachine();
      await q.machineAddProvided({
        machineId,
        provider: Provider.Equinix,
        providerId: `dev-${net}-${i}`,
        providerIpAddress: `10.${net}.${Math.floor(i / 250)}.${i % 250}`,
        providerLocation: "sv",
        providerStatus: ProviderStatus.Running,
      });
      ids.push(machineId);
    }
    return ids;
  });
}

async function startServer(t: TestBmdb): Promise<AdminServer> {
  return await startAdminServer(t, { ui: uiRoutes(await builtUi()) });
}

/** Logs in through `?token=` on `path`, and waits until the stream delivered its first event. */
async function open(page: Page, s: AdminServer, path: string, token = s.adminToken): Promise<void> {
  page.setDefaultTimeout(10_000);
  const separator = path.includes("?") ? "&" : "?";
  await page.goto(`${s.url}${path}${separator}token=${token}`);
  assert.equal(new URL(page.url()).searchParams.get("token"), null, "the token left the URL");
  await page.locator(".conn-live").waitFor();
}

function heading(page: Page, name: string) {
  return page.getByRole("heading", { level: 2, name, exact: true });
}

function rowOf(page: Page, text: string) {
  return page.getByRole("row").filter({ hasText: text });
}

/** The pager above the machine list (a second one follows a long list). */
function pager(page: Page) {
  return page.getByRole("navigation", { name: "Pages", exact: true });
}

function assertNoProblems(browser: TestBrowser, page: Page): void {
  assert.deepEqual(browser.problems(page), [], "no console errors or page errors");
}

dashboardTest("every view after login: headings, live data, no console errors; screenshots", async (t) => {
  await using s = await startServer(t);
  const session = await t.bmdb.startSession({ intervalSeconds: 30 });
  const works: Work[] = [];
  try {
    const ids = await addMachines(session, 12);
    works.push(await session.work(Process.ShepherdAgentStart, () => Promise.resolve([ids[0]])));
    works.push(await session.work(Process.ShepherdRecovery, () => Promise.resolve([ids[1]])));
    for (const id of ids.slice(2, 5)) {
      const w = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([id]));
      await w.fail(BACKOFF, `initializer: ssh root@10.3.0.${ids.indexOf(id)}:22: dial: connection refused`);
    }
    const readAt = new Date().toISOString();
    s.reservations.set([
      ...Array.from({ length: 6 }, (_, i) => ({
        id: `r-sv-${i}`,
        plan: "c3.small.x86",
        metro: "sv",
        provisionable: i >= 2,
        deviceId: i < 2 ? `dev-3-${i}` : null,
        readAt,
      })),
      { id: "r-da-0", plan: "m3.large.x86", metro: "da", provisionable: true, deviceId: null, readAt },
    ]);
    s.provisioner.set({
      provider: "Equinix",
      halted: true,
      reason: `machine ${ids[5]}: device dev-3-5 is missing at the provider`,
      managedDevices: 12,
      maxDevices: 50,
      lastPassAt: readAt,
    });

    await using browser = await launchBrowser({ viewport: VIEWPORTS.desktop });
    const page = await browser.newPage();
    await open(page, s, "/");
    await heading(page, "Overview").waitFor();
    await page.getByRole("alert").filter({ hasText: "Provisioner halted." }).filter({ hasText: ids[5] }).waitFor();

    // Through the navigation, without reloading.
    await page.evaluate(() => (globalThis as unknown as { marker: number }).marker = 1);
    for (const name of HEADINGS) {
      await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name }).click();
      await heading(page, name).waitFor();
      assert.equal(new URL(page.url()).pathname, PATHS[name]);
    }
    assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 1, "no reload");
    await page.goBack();
    await heading(page, "Machines").waitFor();
    await page.goForward();
    await heading(page, "Reservations").waitFor();

    // What each view shows.
    await page.goto(`${s.url}/work`);
    await rowOf(page, ids[0]).getByRole("button", { name: "Cancel work" }).waitFor();
    await rowOf(page, ids[1]).filter({ hasText: "ShepherdRecovery" }).waitFor();
    await page.goto(`${s.url}/backoffs`);
    await rowOf(page, ids[2]).filter({ hasText: "connection refused" }).getByRole("button", { name: "Retry" })
      .waitFor();
    await page.goto(`${s.url}/sessions`);
    await rowOf(page, session.sessionId).filter({ hasText: "test" }).waitFor();
    // The row comes first from the event stream (no deadlines there), its deadline with GET sessions.
    await rowOf(page, session.sessionId).filter({ hasText: /in \d+s/ }).waitFor();
    assert.match(await rowOf(page, session.sessionId).innerText(), /in \d+s/, "a deadline countdown");
    await page.goto(`${s.url}/reservations`);
    const group = rowOf(page, "c3.small.x86").filter({ hasText: "sv" }).first();
    assert.deepEqual(
      (await group.getByRole("cell").allInnerTexts()).map((c) => c.trim()),
      ["c3.small.x86", "sv", "6", "4", "2"],
    );
    // Links both ways: a reservation's device to its machine's page, and back to the reservation, marked.
    await t.sql(`UPDATE machine_provided SET provider_reservation_id = 'r-sv-1' WHERE machine_id = $1`, [ids[1]]);
    await rowOf(page, "r-sv-1").getByRole("link", { name: "dev-3-1" }).click();
    await page.waitForURL(`${s.url}/machines/${ids[1]}`);
    await page.getByRole("link", { name: "r-sv-1" }).click();
    await page.waitForURL(`${s.url}/reservations?reservation=r-sv-1`);
    await page.locator("tr.highlight").filter({ hasText: "r-sv-1" }).waitFor();

    // Each view at desktop and phone size.
    const shots: string[] = [];
    for (const [size, viewport] of Object.entries(VIEWPORTS)) {
      await page.setViewportSize(viewport);
      for (const name of HEADINGS) {
        await page.goto(`${s.url}${PATHS[name]}`);
        await heading(page, name).waitFor();
        await page.locator(".conn-live").waitFor();
        if (name === "Overview") await page.getByRole("img", { name: /^Claims per minute/ }).waitFor();
        if (name === "Machines") await rowOf(page, ids[0]).waitFor();
        shots.push(await screenshot(page, `${name.toLowerCase().replace(" ", "-")}-${size}`));
      }
      await page.goto(`${s.url}/machines/${ids[2]}`);
      await page.getByRole("heading", { name: "Why idle" }).waitFor();
      await page.getByText("dial: connection refused").first().waitFor();
      shots.push(await screenshot(page, `machine-${size}`));
    }
    console.log(`screenshots: ${shots.join(", ")}`);
    assertNoProblems(browser, page);
  } finally {
    for (const w of works) await w.cancel().catch(() => {});
    await session.close();
  }
});

dashboardTest(
  "claimed work appears live; Cancel work → confirm → the worker's signal aborts, the row leaves",
  async (t) => {
    await using s = await startServer(t);
    const session = await t.bmdb.startSession({ intervalSeconds: 1 });
    try {
      const [machineId] = await addMachines(session, 1);
      await using browser = await launchBrowser();
      const page = await browser.newPage();
      await open(page, s, "/work");
      await heading(page, "Active work").waitFor();
      await page.getByText("No active work.").waitFor();
      await page.evaluate(() => (globalThis as unknown as { marker: number }).marker = 1);

      const claimedAt = performance.now();
      const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machineId]));
      const row = rowOf(page, machineId);
      await row.waitFor({ timeout: 2000 });
      console.log(`the claimed work showed after ${Math.round(performance.now() - claimedAt)} ms`);
      assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 1, "no reload");

      // By keyboard: open the confirmation, back out with Escape (nothing happens), open it again and confirm.
      const cancel = row.getByRole("button", { name: "Cancel work" });
      await cancel.focus();
      await page.keyboard.press("Enter");
      const dialog = page.getByRole("dialog", { name: "Cancel this work?" });
      await dialog.waitFor();
      assert.ok(await dialog.getByText(machineId).isVisible(), "the dialog names the machine");
      assert.ok(
        await dialog.getByRole("button", { name: "Keep it running" }).evaluate((b) => b === document.activeElement),
        "focus starts on the safe choice",
      );
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      assert.ok(await cancel.evaluate((b) => b === document.activeElement), "focus back on the row's button");
      await screenshot(page, "keyboard-focus-desktop");
      assert.equal(work.signal.aborted, false, "backing out cancels nothing");
      await page.keyboard.press("Enter");
      await dialog.waitFor();
      await screenshot(page, "cancel-dialog-desktop");
      await page.keyboard.press("Tab");
      assert.ok(
        await dialog.getByRole("button", { name: "Yes, cancel work" }).evaluate((b) => b === document.activeElement),
      );
      await page.keyboard.press("Enter");
      await dialog.waitFor({ state: "detached" });

      // The worker's work.signal aborts within a heartbeat; its finish commits nothing and releases the machine.
      await within(aborted(work.signal), 3000, "the worker's work.signal abort");
      await row.getByText(/cancel requested/).waitFor();
      await assert.rejects(
        work.finish((q) =>
          q.machineSetAgentStarted({ machineId, agentStartedAt: new Date(), agentPublicKey: new Uint8Array([1]) })
        ),
        { name: "WorkCanceledError" },
      );
      await row.waitFor({ state: "detached", timeout: 3000 });
      const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
      assert.deepEqual(history.map((h) => [h.event, h.actor]), [["Started", null], ["Canceled", "admin"]]);
      assertNoProblems(browser, page);
    } finally {
      await session.close();
    }
  },
);

dashboardTest("a failed work shows in Backoffs; Retry clears it and the machine is eligible again", async (t) => {
  await using s = await startServer(t);
  const session = await t.bmdb.startSession();
  try {
    const [machineId] = await addMachines(session, 1);
    await using browser = await launchBrowser();
    const page = await browser.newPage();
    await open(page, s, "/backoffs");
    await page.getByText("No active backoffs.").waitFor();

    const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machineId]));
    // A cause quoting what a machine sent is shown as text, never as markup.
    const cause = `initializer: ssh: handshake did not finish within 10000 ms (it sent "<b id=injected>HTTP</b>")`;
    await work.fail(BACKOFF, cause);
    const row = rowOf(page, machineId);
    await row.filter({ hasText: "handshake did not finish" }).waitFor({ timeout: 2000 });
    assert.equal(await row.getByRole("cell").filter({ hasText: "handshake" }).innerText(), cause);
    assert.equal(await page.locator("#injected").count(), 0, "no element made from the cause");
    const before = await t.bmdb.read((q) => q.whyIdle({ machineId }));
    assert.deepEqual(before!.loops[0].unmet.map((u) => u.condition), ["noBackoff"]);

    await row.getByRole("button", { name: "Retry" }).click();
    await row.waitFor({ state: "detached", timeout: 3000 });
    await page.getByText("No active backoffs.").waitFor();
    const after = await t.bmdb.read((q) => q.whyIdle({ machineId }));
    assert.equal(after!.loops[0].eligible, true, "the initializer may claim it again");
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => h.event), ["Started", "Failed", "Retried"]);
    assertNoProblems(browser, page);
  } finally {
    await session.close();
  }
});

dashboardTest("machines: search by IP, filters and pages in the URL, back and forward, shared links", async (t) => {
  await using s = await startServer(t);
  const session = await t.bmdb.startSession();
  try {
    const ids = await addMachines(session, 120);
    const sorted = [...ids].sort();
    const target = ids[77]; // 10.3.0.77
    await using browser = await launchBrowser();
    const page = await browser.newPage();
    await open(page, s, "/machines");
    await page.getByText("Page 1: 50 machines").waitFor();

    // Keyset pages: 50, 50, 20 (in machine id order), Previous, and the browser's back.
    const firstCell = () => page.getByRole("table", { name: "Machines" }).getByRole("row").nth(1).getByRole("link");
    assert.equal(await firstCell().innerText(), sorted[0]);
    await pager(page).getByRole("button", { name: "Next" }).click();
    await page.getByText("Page 2: 50 machines").waitFor();
    assert.equal(await firstCell().innerText(), sorted[50]);
    await pager(page).getByRole("button", { name: "Next" }).click();
    await page.getByText("Page 3: 20 machines (last page)").waitFor();
    assert.equal(await pager(page).getByRole("button", { name: "Next" }).isDisabled(), true);
    await pager(page).getByRole("button", { name: "Previous" }).click();
    await page.getByText("Page 2: 50 machines").waitFor();
    await page.goBack();
    await page.getByText("Page 3: 20 machines (last page)").waitFor();
    await page.goBack();
    await page.goBack();
    await page.getByText("Page 1: 50 machines").waitFor();

    // Search by IP: one row, and the query in the URL.
    await page.getByRole("searchbox", { name: "Search" }).fill("10.3.0.77");
    await page.keyboard.press("Enter");
    await page.getByText("Page 1: 1 machine (last page)").waitFor();
    assert.equal(new URL(page.url()).searchParams.get("q"), "10.3.0.77");
    assert.equal(await firstCell().innerText(), target);
    // A value the API refuses is caught before asking.
    await page.getByRole("searchbox", { name: "Search" }).fill("10.3.0.77'--");
    await page.keyboard.press("Enter");
    await page.getByRole("alert").filter({ hasText: "letters, digits" }).waitFor();
    assert.equal(new URL(page.url()).searchParams.get("q"), "10.3.0.77");

    // Filters go into the URL too; with work held on the target only, "Has work: Yes" finds it alone.
    const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([target]));
    await page.getByRole("searchbox", { name: "Search" }).fill("");
    await page.keyboard.press("Enter");
    await page.getByLabel("Has work").selectOption("true");
    await page.getByText("Page 1: 1 machine (last page)").waitFor();
    assert.equal(new URL(page.url()).search, "?hasWork=true");
    assert.equal(await firstCell().innerText(), target);

    // The machine's page, and back to the filtered list.
    await firstCell().click();
    await page.getByRole("heading", { level: 2, name: `Machine ${target}` }).waitFor();
    await page.getByRole("heading", { name: "Timeline" }).waitFor();
    await rowOf(page, "ShepherdAgentStart").getByRole("button", { name: "Cancel work" }).waitFor();
    await page.goBack();
    await page.getByText("Page 1: 1 machine (last page)").waitFor();
    assert.equal(await page.getByLabel("Has work").inputValue(), "true");

    // A shared link opens as it was.
    const shared = await browser.newPage();
    await shared.goto(`${s.url}/machines?q=10.3.0.77`);
    await shared.getByText("Page 1: 1 machine (last page)").waitFor();
    assert.equal(await shared.getByRole("searchbox", { name: "Search" }).inputValue(), "10.3.0.77");
    await work.cancel();
    assertNoProblems(browser, page);
    assertNoProblems(browser, shared);
  } finally {
    await session.close();
  }
});

dashboardTest(
  "pause holds updates back and resume catches up; the read-only token gets no action buttons",
  async (t) => {
    await using s = await startServer(t);
    const session = await t.bmdb.startSession();
    try {
      const [first, second] = await addMachines(session, 2);
      const held = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([first]));
      await using browser = await launchBrowser();
      const page = await browser.newPage();
      await open(page, s, "/work", s.readonlyToken);
      await rowOf(page, first).waitFor();
      assert.equal(await page.getByRole("button", { name: "Cancel work" }).count(), 0, "read-only: no Cancel work");
      await page.getByText("read-only").waitFor();

      await page.getByRole("button", { name: "Pause" }).click();
      await page.getByRole("status").filter({ hasText: "Updates paused" }).waitFor();
      const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([second]));
      await page.getByRole("button", { name: /^Resume \(\d+\)$/ }).waitFor();
      assert.equal(await rowOf(page, second).count(), 0, "paused: the new work is held back");
      await page.getByRole("button", { name: /^Resume/ }).click();
      await rowOf(page, second).waitFor({ timeout: 1000 });
      await page.getByRole("button", { name: "Pause", exact: true }).waitFor();

      await page.goto(`${s.url}/backoffs`);
      await work.fail(BACKOFF, "boom");
      await rowOf(page, second).waitFor();
      assert.equal(await page.getByRole("button", { name: "Retry" }).count(), 0, "read-only: no Retry");
      await held.cancel();
      assertNoProblems(browser, page);
    } finally {
      await session.close();
    }
  },
);

dashboardTest(
  "after a lost connection the stream resumes from Last-Event-ID and shows what changed meanwhile",
  async (t) => {
    await using s = await startServer(t);
    const resumedFrom: (string | undefined)[] = [];
    const stream = s.hub.stream.bind(s.hub);
    s.hub.stream = (lastEventId) => {
      resumedFrom.push(lastEventId);
      return stream(lastEventId);
    };
    // The browser reaches the server through a proxy the test can cut.
    await using proxy = startTcpProxy(Number(new URL(s.url).port));
    const session = await t.bmdb.startSession();
    try {
      const [machineId] = await addMachines(session, 1);
      await using browser = await launchBrowser();
      const page = await browser.newPage();
      await open(page, { ...s, url: proxy.endpoint }, "/work");
      await page.getByText("No active work.").waitFor();
      await page.evaluate(() => (globalThis as unknown as { marker: number }).marker = 1);

      proxy.cut();
      await page.locator(".conn-reconnecting").waitFor();
      const work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([machineId]));
      proxy.restore();
      await rowOf(page, machineId).waitFor({ timeout: 15_000 });
      await page.locator(".conn-live").waitFor();
      assert.equal(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker), 1, "no reload");
      assert.equal(resumedFrom[0], undefined, "the first connection starts fresh");
      assert.match(String(resumedFrom.at(-1)), /^\d+$/, "the reconnect sent Last-Event-ID");
      await work.cancel();
      // Chromium itself logs the stream the cut broke (and any reconnect refused meanwhile); nothing else may appear.
      const cutStream = /Failed to load resource: net::ERR_\w+ \(http:\/\/127\.0\.0\.1:\d+\/api\/v1\/events\)/;
      assert.deepEqual(browser.problems(page).filter((p) => !cutStream.test(p)), []);
    } finally {
      await session.close();
    }
  },
);

dashboardTest("at 100,000 machines the list pages and a search by IP finds one machine, quickly", async (t) => {
  await using s = await startServer(t);
  // 10.9.<n / 256 % 256>.<n % 256> for n = 0..99,999, in one statement.
  await t.sql(`WITH m AS (
      INSERT INTO machines (machine_id) SELECT gen_random_uuid() FROM generate_series(0, 99999) RETURNING machine_id),
    n AS (SELECT machine_id, (row_number() OVER ()) - 1 AS n FROM m)
    INSERT INTO machine_provided
      (machine_id, provider, provider_id, provider_ip_address, provider_location, provider_status)
    SELECT machine_id, 'Equinix', 'dev-' || n, '10.9.' || (n / 256 % 256) || '.' || (n % 256), 'sv', 'Running'
    FROM n`);
  const [{ machine_id: target }] = await t.sql(
    `SELECT machine_id FROM machine_provided WHERE provider_ip_address = '10.9.201.77'`,
  );
  await using browser = await launchBrowser();
  const page = await browser.newPage();
  await open(page, s, "/");
  await page.getByRole("link", { name: /^100,000 Machines/ }).waitFor();

  let started = performance.now();
  await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: "Machines" }).click();
  await page.getByText("Page 1: 50 machines").waitFor();
  const firstPageMs = performance.now() - started;
  assert.equal(await page.getByRole("table", { name: "Machines" }).getByRole("row").count(), 51, "one page, no more");

  started = performance.now();
  await pager(page).getByRole("button", { name: "Next" }).click();
  await page.getByText("Page 2: 50 machines").waitFor();
  const nextPageMs = performance.now() - started;

  await page.getByRole("searchbox", { name: "Search" }).fill("10.9.201.77");
  started = performance.now();
  await page.keyboard.press("Enter");
  await page.getByText("Page 1: 1 machine (last page)").waitFor();
  const searchMs = performance.now() - started;
  await rowOf(page, String(target)).filter({ hasText: "10.9.201.77" }).waitFor();
  console.log(
    `100,000 machines: first page ${Math.round(firstPageMs)} ms, next page ${Math.round(nextPageMs)} ms, ` +
      `search by IP ${Math.round(searchMs)} ms (click to rows shown)`,
  );
  assert.ok(firstPageMs < 2000 && nextPageMs < 2000 && searchMs < 2000, "each under 2 s in the browser");
  assertNoProblems(browser, page);
});
