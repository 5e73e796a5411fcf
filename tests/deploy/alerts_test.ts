/**
 * The Prometheus alerting rules in deploy/alerts.yml:
 *
 * - `promtool check rules` accepts them;
 * - `promtool test rules deploy/alerts_test.yml` passes, every alert has a
 *   case that fires it and one that stays quiet, and the unit tests catch an
 *   alert that never fires or always fires (each alert's expression swapped
 *   in a copy must fail them);
 * - every metric a rule selects is exported by a running Drover (started
 *   in-process on PGlite with both providers, the Metal API simulator and a
 *   simulated owned fleet, its /metrics scraped), and every label a rule
 *   matches on is one its samples carry: a renamed metric or label breaks
 *   this test, not the pager; and the metrics table of docs/operating.md
 *   lists exactly the metrics it exports, each with its type.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { startSimulator } from "../../equinix/simulator/mod.ts";
import { readConfig } from "../../server/config.ts";
import { startService } from "../../server/service.ts";
import { freePort } from "../harness/free_port.ts";
import { promtoolPath, promtoolRequirement, runTool } from "../harness/deploy_tools.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { waitFor } from "../harness/wait.ts";
import { metricOf, parseExposition } from "./metrics_text.ts";
import { metricSelectors } from "./promql_selectors.ts";

const DEPLOY = new URL("../../deploy/", import.meta.url).pathname;
const RULES = `${DEPLOY}alerts.yml`;
const RULE_TESTS = `${DEPLOY}alerts_test.yml`;

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
}
interface RuleFile {
  groups: { name: string; rules: AlertRule[] }[];
}
interface RuleTests {
  tests: { name: string; alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
}

function alertRules(): AlertRule[] {
  const file = parse(Deno.readTextFileSync(RULES)) as RuleFile;
  return file.groups.flatMap((g) => g.rules);
}

if (serviceAvailable(promtoolRequirement)) {
  Deno.test("promtool check rules accepts deploy/alerts.yml, every rule an alert", async () => {
    const rules = alertRules();
    const run = await runTool(promtoolPath(), ["check", "rules", RULES]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
    assert.ok(rules.length >= 6, `the issue's six alerts at least: ${rules.length}`);
    for (const rule of rules) {
      assert.ok(rule.alert && rule.expr, `a rule without alert or expr: ${JSON.stringify(rule)}`);
    }
  });

  Deno.test("promtool test rules passes deploy/alerts_test.yml, with a firing and a quiet case per alert", async () => {
    const run = await runTool(promtoolPath(), ["test", "rules", RULE_TESTS]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /SUCCESS/);

    const cases = (parse(Deno.readTextFileSync(RULE_TESTS)) as RuleTests).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alertRules()) {
      const own = cases.filter((c) => c.alertname === alert);
      assert.ok(own.some((c) => (c.exp_alerts ?? []).length > 0), `${alert}: no case where it fires`);
      assert.ok(own.some((c) => (c.exp_alerts ?? []).length === 0), `${alert}: no case where it stays quiet`);
    }
  });

  Deno.test("the rules' unit tests fail when an alert never fires or always fires", async () => {
    const dir = await Deno.makeTempDir({ prefix: "drover-alerts-" });
    try {
      const original = Deno.readTextFileSync(RULES);
      const tests = parse(Deno.readTextFileSync(RULE_TESTS)) as RuleTests & Record<string, unknown>;
      for (const { alert, expr } of alertRules()) {
        // Only this alert's cases: each run stays short.
        const own = tests.tests
          .map((t) => ({ ...t, alert_rule_test: (t.alert_rule_test ?? []).filter((c) => c.alertname === alert) }))
          .filter((t) => t.alert_rule_test.length > 0);
        await Deno.writeTextFile(`${dir}/alerts_test.yml`, JSON.stringify({ ...tests, tests: own }));
        const mutants = [
          { how: "never fires", expr: "vector(1) > 2" },
          // The firing cases' alerts stay as they were; the quiet cases get one more.
          { how: "always fires", expr: `(${expr}) or on () vector(1)` },
        ];
        for (const mutant of mutants) {
          const file = parse(original) as RuleFile;
          for (const rule of file.groups.flatMap((g) => g.rules)) if (rule.alert === alert) rule.expr = mutant.expr;
          await Deno.writeTextFile(`${dir}/alerts.yml`, JSON.stringify(file));
          const run = await runTool(promtoolPath(), ["test", "rules", `${dir}/alerts_test.yml`]);
          assert.notEqual(run.code, 0, `${alert} swapped for one that ${mutant.how}: its unit tests still pass`);
          assert.match(run.stdout + run.stderr, new RegExp(`alertname: ${alert}\\b`), run.stdout + run.stderr);
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test({
  name: "a running Drover exports every metric and label the rules select, and the metrics docs/operating.md lists",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const selectors = alertRules().flatMap((rule) => metricSelectors(rule.expr).map((s) => ({ ...s, rule })));
    assert.ok(selectors.length > 0, "the rules select no drover_ metric at all");

    await using sim = await startSimulator({ reservations: 2, timing: { queuedMs: 50, provisioningMs: 200 } });
    const dir = await Deno.makeTempDir({ prefix: "drover-alerts-metrics-" });
    const adminToken = `admin-${crypto.randomUUID()}`;
    const config = readConfig({
      DROVER_DATA_DIR: `${dir}/data`,
      DROVER_LISTEN: `127.0.0.1:${freePort()}`,
      DROVER_ADMIN_TOKEN: adminToken,
      // Both providers, so the Metal API client's and the Redfish pool's metrics are registered.
      EQUINIX_API_URL: sim.url,
      EQUINIX_API_TOKEN: sim.token,
      EQUINIX_PROJECT_ID: sim.projectId,
      EQUINIX_API_RATE: "0ms",
      DROVER_MAX_DEVICES: "2",
      DROVER_SIM_OWNED_FLEET: "2",
      DROVER_PROVISIONER_INTERVAL: "500ms",
      DROVER_UPDATER_INTERVAL: "500ms",
      DROVER_AGENT_HEARTBEAT_INTERVAL: "1s",
    }, []);
    assert.ok(config !== "help");
    const service = await startService(config, { logger: quietLogger });
    try {
      const scrape = async () => {
        const response = await fetch(`${service.url}/metrics`, { headers: { authorization: `Bearer ${adminToken}` } });
        assert.equal(response.status, 200);
        return parseExposition(await response.text());
      };
      // Once agents heartbeat and the Metal API has been called, the labelled series the rules match on exist.
      const metrics = await waitFor(async () => {
        const m = await scrape();
        const has = (name: string, labels: Record<string, string> = {}) =>
          m.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
        return has("drover_agent_requests_total", { endpoint: "/heartbeat", status: "204" }) &&
          has("drover_equinix_calls_total") && has("drover_redfish_requests_total") &&
          has("drover_loop_claims_total") && has("drover_active_backoffs") && m;
      }, { timeoutMs: 60_000, intervalMs: 250, what: "heartbeats, Metal API calls and BMC requests in /metrics" });

      await t.step("every metric and label the alerting rules select is exported", () => {
        const problems: string[] = [];
        for (const { metric, matchers, rule } of selectors) {
          const exported = metricOf(metrics, metric);
          if (!exported) {
            problems.push(`${rule.alert}: ${metric} is not exported`);
            continue;
          }
          const samples = metrics.samples.filter((s) => s.name === metric);
          // A labelled metric nothing has touched yet has no samples, so nothing to say about its labels.
          if (samples.length === 0) continue;
          for (const { label, op, value } of matchers) {
            if (!samples.some((s) => label in s.labels)) {
              problems.push(`${rule.alert}: ${metric} has no label ${label}`);
            } else if (op === "=" && !samples.some((s) => s.labels[label] === value)) {
              const seen = [...new Set(samples.map((s) => s.labels[label]))].join(", ");
              problems.push(`${rule.alert}: ${metric}{${label}="${value}"} matches no series (seen: ${seen})`);
            }
          }
        }
        assert.deepEqual(problems, [], problems.join("\n"));
        const names = [...new Set(selectors.map((s) => s.metric))].sort();
        console.log(`the rules select ${names.length} metrics, all exported: ${names.join(", ")}`);
      });

      await t.step("docs/operating.md's metrics table lists every exported metric, with its type", () => {
        const exported = new Map([...metrics.types].filter(([name]) => name.startsWith("drover_")));
        const documented = documentedMetrics();
        const undocumented = [...exported.keys()].filter((name) => !documented.has(name));
        const notExported = [...documented.keys()].filter((name) => !exported.has(name));
        const wrongType = [...documented].filter(([name, type]) => exported.has(name) && exported.get(name) !== type)
          .map(([name, type]) => `${name}: ${type} in the docs, ${exported.get(name)} exported`);
        assert.deepEqual({ undocumented, notExported, wrongType }, {
          undocumented: [],
          notExported: [],
          wrongType: [],
        });
        console.log(`docs/operating.md lists the ${documented.size} metrics a running Drover exports`);
      });
    } finally {
      await service.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The metrics table of docs/operating.md: name → type, from rows like "| `drover_x` | counter | ... |". */
function documentedMetrics(): Map<string, string> {
  const text = Deno.readTextFileSync(new URL("../../docs/operating.md", import.meta.url));
  return new Map([...text.matchAll(/^\| `(drover_[a-z0-9_]+)` +\| (counter|gauge|histogram|summary) +\|/gm)]
    .map(([, name, type]) => [name, type]));
}
