/**
 * `deno task test`: starts the services the tests need, runs every test, and
 * always stops the services again.
 *
 * - Says up front which services are available and what to install for the
 *   missing ones. Tests that need a missing service are skipped, except under
 *   `DROVER_REQUIRE_SERVICES=1`, where a missing service fails the run before
 *   any test starts.
 * - Starts one throwaway PostgreSQL for the whole run (tests get fresh
 *   databases on it) and passes its URL to the tests.
 * - Extra arguments go to `deno test` (e.g. `deno task test --filter claim`).
 * - Ends with one `N passed, N failed` line.
 *
 * @module
 */
import { SHARED_POSTGRES_ENV, startPostgres } from "./harness/postgres.ts";
import { postgresRequirement } from "./harness/postgres.ts";
import { etcdRequirement } from "./harness/etcd.ts";
import { sshdRequirement } from "./harness/sshd.ts";
import { chromiumRequirement } from "./harness/browser.ts";
import { promtoolRequirement, systemdAnalyzeRequirement } from "./harness/deploy_tools.ts";
import { type ServiceRequirement, servicesRequired } from "./harness/requirements.ts";

// etcd is not started here: each etcd test starts its own (tests/harness/etcd.ts).
const requirements: ServiceRequirement[] = [
  postgresRequirement,
  etcdRequirement,
  sshdRequirement,
  chromiumRequirement,
  promtoolRequirement,
  systemdAnalyzeRequirement,
];

function report(): ServiceRequirement[] {
  const missing: ServiceRequirement[] = [];
  for (const req of requirements) {
    const problem = req.probe();
    if (problem === undefined) {
      console.log(`✓ ${req.name}`);
    } else {
      missing.push(req);
      console.log(`✗ ${req.name}: ${problem}\n    install: ${req.install}`);
    }
  }
  return missing;
}

async function main(): Promise<number> {
  const missing = report();
  if (missing.length > 0 && servicesRequired()) {
    console.error(
      `DROVER_REQUIRE_SERVICES=1 and ${missing.map((m) => m.name).join(", ")} ${missing.length > 1 ? "are" : "is"} ` +
        `missing: failing instead of skipping.`,
    );
    return 1;
  }

  const env: Record<string, string> = {};
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((e) => console.error(e));
  };
  // Ctrl-C: stop the services, then exit.
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  try {
    if (!missing.includes(postgresRequirement)) {
      const pg = await startPostgres();
      stops.push(() => pg.stop());
      env[SHARED_POSTGRES_ENV] = pg.url();
      console.log(`PostgreSQL for this run: ${pg.url()}`);
    }

    const junit = await Deno.makeTempFile({ prefix: "drover-junit-", suffix: ".xml" });
    stops.push(() => Deno.remove(junit).catch(() => {}));
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--allow-all",
        "--junit-path=" + junit,
        ...Deno.args,
      ],
      env,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    const status = await child.status;
    const summary = await summarize(junit);
    if (summary) console.log(`${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped`);
    return status.code;
  } finally {
    await stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/**
 * Counts of top-level tests from Deno's JUnit report (steps are listed there
 * too, named "test > step"). The CI harness reads the "N passed, N failed" line.
 */
async function summarize(path: string): Promise<{ passed: number; failed: number; skipped: number } | undefined> {
  let xml: string;
  try {
    xml = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  const cases = [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)]
    .map(([, name, body = ""]) => ({ name, body }));
  const names = new Set(cases.map((c) => c.name));
  const isStep = (name: string) => {
    for (let i = name.indexOf(" &gt; "); i > 0; i = name.indexOf(" &gt; ", i + 1)) {
      if (names.has(name.slice(0, i))) return true;
    }
    return false;
  };
  let passed = 0, failed = 0, skipped = 0;
  for (const c of cases.filter((c) => !isStep(c.name))) {
    if (/<failure\b|<error\b/.test(c.body)) failed++;
    else if (/<skipped\b/.test(c.body)) skipped++;
    else passed++;
  }
  return { passed, failed, skipped };
}

Deno.exit(await main());
