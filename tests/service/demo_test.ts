/**
 * The first hour: the embedded service with nothing configured runs the demo
 * fleet, and the two things the dashboard exists for can be tried on it in
 * Chromium: a hung agent start is cancelled, and a machine whose agent start
 * keeps failing is retried (its next attempt comes at once).
 *
 * @module
 */
import assert from "node:assert/strict";
import { readConfig } from "../../server/config.ts";
import { startService } from "../../server/service.ts";
import { uiRoutes } from "../../server/ui_routes.ts";
import { chromiumRequirement, launchBrowser } from "../harness/browser.ts";
import { freePort } from "../harness/free_port.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { waitFor } from "../harness/wait.ts";
import { builtUi } from "../ui/ui_assets.ts";
import type { BackoffList, MachineView, Overview, WorkList } from "../../ui/wire.ts";

if (serviceAvailable(chromiumRequirement)) {
  Deno.test({
    name: "the embedded demo fleet: within two minutes, work to cancel and a backoff to retry, both done in Chromium",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const dir = await Deno.makeTempDir({ prefix: "drover-demo-" });
      const config = readConfig({ DROVER_DATA_DIR: `${dir}/data`, DROVER_LISTEN: `127.0.0.1:${freePort()}` }, []);
      assert.ok(config !== "help" && config.demo, "nothing set: the demo runs");
      const service = await startService(config, { logger: quietLogger, ui: builtUi().then(uiRoutes) });
      const started = performance.now();
      try {
        assert.equal(service.demo, true);
        const token = new URL(service.loginUrl).searchParams.get("token")!;
        const api = async <T>(path: string) =>
          await (await fetch(`${service.url}/api/v1/${path}`, { headers: { authorization: `Bearer ${token}` } }))
            .json() as T;
        assert.match((await api<Overview>("overview")).demo ?? "", /misbehave on purpose/);

        await using browser = await launchBrowser();
        const page = await browser.newPage();
        await page.goto(service.loginUrl);
        await page.getByRole("complementary", { name: "Demo fleet" }).waitFor();

        // Work to cancel: an agent start still running 5 s after it began is the demo's hung one.
        const hung = await waitFor(async () => {
          const { rows } = await api<WorkList>("work");
          return rows.find((w) => Date.now() - Date.parse(w.startedAt) > 5000);
        }, { timeoutMs: 120_000, intervalMs: 250, what: "a long-running agent start" });
        await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: /Active work/ }).click();
        const workRow = page.getByRole("row").filter({ hasText: hung.machineId });
        await workRow.getByRole("button", { name: "Cancel work" }).click();
        await page.getByRole("dialog", { name: "Cancel this work?" }).getByRole("button", { name: "Yes, cancel work" })
          .click();
        const canceled = await waitFor(async () => {
          const { timeline } = await api<MachineView>(`machines/${hung.machineId}`);
          return timeline.find((e) => e.event === "Canceled" && e.actor === "admin");
        }, { what: "the hung start canceled by admin" });
        assert.equal(canceled.process, "ShepherdAgentStart");
        await workRow.waitFor({ state: "detached" });

        // A backoff to retry: its machine is tried again at once.
        const backoff = await waitFor(async () => (await api<BackoffList>("backoffs")).rows[0], {
          timeoutMs: 120_000,
          intervalMs: 250,
          what: "a machine in backoff",
        });
        assert.match(backoff.cause, /\(demo/);
        await page.getByRole("navigation", { name: "Views" }).getByRole("link", { name: /Backoffs/ }).click();
        await page.getByRole("row").filter({ hasText: backoff.machineId }).getByRole("button", { name: "Retry" })
          .click();
        const retried = await waitFor(async () => {
          const { timeline } = await api<MachineView>(`machines/${backoff.machineId}`);
          // Newest first: a Started after the operator's Retried is the attempt the retry brought forward.
          const at = timeline.findIndex((e) => e.event === "Retried" && e.actor === "admin");
          return at > 0 && timeline.slice(0, at).some((e) => e.event === "Started") && timeline;
        }, { what: "a new attempt after the retry" });
        assert.ok(retried);
        const seconds = (performance.now() - started) / 1000;
        console.log(`demo: work canceled and a backoff retried ${seconds.toFixed(0)} s after start`);
        assert.ok(seconds < 120, `within two minutes of the start: ${seconds.toFixed(0)} s`);
        assert.deepEqual(browser.problems(page), []);
      } finally {
        await service.stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
