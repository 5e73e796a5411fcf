/**
 * deploy/drover.service:
 *
 * - `systemd-analyze verify` accepts it without a warning (on a copy whose
 *   ExecStart names a temporary executable: verify refuses a binary that is
 *   not there, and build/drover is not installed here), and reports a
 *   mistaken copy, so the check can fail;
 * - what an operator relies on: `drover start` as a user of its own, with its
 *   state and cache directories, SIGTERM and a stop timeout longer than
 *   Drover's own graceful limit, SIGHUP on reload, restarts on failure but
 *   not on a configuration error;
 * - `systemd-analyze security --offline` rates its exposure at most 2.0 ("OK").
 *
 * The user need not exist for verify here (systemd 252 does not look it up).
 *
 * @module
 */
import assert from "node:assert/strict";
import { runTool, systemdAnalyzePath, systemdAnalyzeRequirement } from "../harness/deploy_tools.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { parseUnitFile, timeSpanSeconds, unitValue } from "./unit_file.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const UNIT = `${REPO}deploy/drover.service`;
const INSTALLED_BINARY = "/usr/local/bin/drover";

/** Drover's own graceful shutdown limit (main.ts): systemd must wait longer before SIGKILL. */
function shutdownLimitSeconds(): number {
  const match = Deno.readTextFileSync(`${REPO}main.ts`).match(/SHUTDOWN_LIMIT_MS = ([\d_]+)/);
  assert.ok(match, "main.ts no longer names SHUTDOWN_LIMIT_MS: say here where the graceful limit went");
  return Number(match[1].replaceAll("_", "")) / 1000;
}

/** A copy of the unit in a fresh directory, ExecStart on a temporary executable; `edit` changes the text. */
async function unitCopy(edit: (text: string) => string = (t) => t): Promise<{ dir: string; path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "drover-unit-" });
  const binary = `${dir}/drover`;
  await Deno.writeTextFile(binary, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  const text = Deno.readTextFileSync(UNIT);
  assert.ok(text.includes(`ExecStart=${INSTALLED_BINARY} `), `the unit's ExecStart is not ${INSTALLED_BINARY}`);
  const path = `${dir}/drover.service`;
  await Deno.writeTextFile(path, edit(text.replace(`ExecStart=${INSTALLED_BINARY} `, `ExecStart=${binary} `)));
  return { dir, path };
}

if (serviceAvailable(systemdAnalyzeRequirement)) {
  Deno.test("systemd-analyze verify accepts deploy/drover.service without a warning", async () => {
    const { dir, path } = await unitCopy();
    try {
      const run = await runTool(systemdAnalyzePath(), ["verify", path]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal((run.stdout + run.stderr).trim(), "", "verify printed warnings");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("systemd-analyze verify reports a mistake in the unit, by line", async () => {
    const { dir, path } = await unitCopy((text) => text.replace(/^TimeoutStopSec=.*$/m, "TimeoutStopSec=thirty"));
    try {
      const run = await runTool(systemdAnalyzePath(), ["verify", path]);
      assert.match(run.stdout + run.stderr, /drover\.service:\d+: Failed to parse time value.*thirty/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  Deno.test("systemd-analyze security rates deploy/drover.service's exposure at most 2.0", async () => {
    const { dir, path } = await unitCopy();
    try {
      const run = await runTool(systemdAnalyzePath(), ["security", "--offline=true", "--threshold=20", path]);
      const exposure = (run.stdout + run.stderr).match(/Overall exposure level for drover\.service: ([\d.]+)/);
      assert.ok(exposure, run.stdout + run.stderr);
      console.log(`systemd-analyze security: exposure ${exposure[1]} (0 is best, 10 worst)`);
      assert.equal(run.code, 0, `exposure ${exposure[1]} is above 2.0:\n${run.stdout}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("deploy/drover.service runs `drover start` as its own user, stops gracefully, reloads on SIGHUP", () => {
  const unit = parseUnitFile(Deno.readTextFileSync(UNIT));
  const service = (key: string) => unitValue(unit, "Service", key);
  const environment = unit.get("Service")?.get("Environment") ?? [];

  assert.equal(service("ExecStart"), `${INSTALLED_BINARY} start`);
  assert.equal(service("User"), "drover");
  assert.equal(service("Group"), "drover");
  assert.equal(service("EnvironmentFile"), "/etc/drover/drover.env");
  assert.equal(service("StateDirectory"), "drover");
  assert.equal(service("CacheDirectory"), "drover");
  assert.ok(environment.includes("DROVER_DATA_DIR=%S/drover"), "the data dir is the state directory");
  assert.ok(environment.includes("DROVER_CACHE_DIR=%C/drover"), "the executable unpacks into the cache directory");

  assert.equal(service("KillSignal"), "SIGTERM");
  const stopSeconds = timeSpanSeconds(service("TimeoutStopSec") ?? "90s");
  const graceful = shutdownLimitSeconds();
  assert.ok(
    stopSeconds >= graceful + 5,
    `TimeoutStopSec ${stopSeconds} s leaves no margin over Drover's ${graceful} s`,
  );
  assert.match(service("ExecReload") ?? "", /^\/bin\/kill -HUP \$MAINPID$/);

  assert.equal(service("Restart"), "on-failure");
  assert.ok((service("RestartPreventExitStatus") ?? "").split(/\s+/).includes("2"), "exit 2 (bad configuration)");
  assert.notEqual(service("MemoryDenyWriteExecute"), "yes", "V8's JIT needs writable executable memory");
  assert.equal(unitValue(unit, "Install", "WantedBy"), "multi-user.target");
});
