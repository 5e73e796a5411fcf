/**
 * deploy/drover.env: every setting Drover has is in it (set, or commented
 * with its default), its commented defaults are Drover's own, and what it
 * sets is a configuration Drover accepts (as `drover start` reads it, with
 * the executable's embedded agent): PostgreSQL with several hosts and
 * target_session_attrs=read-write, three etcd members, both tokens, the
 * inventory, BMC credentials and SSH key.
 *
 * @module
 */
import assert from "node:assert/strict";
import { readConfig, SETTINGS } from "../../server/config.ts";
import { parsePostgresUrl } from "../../bmdb/postgres_url.ts";
import { parseEnvironmentFile } from "./unit_file.ts";

const ENV_FILE = new URL("../../deploy/drover.env", import.meta.url).pathname;
// Set by deploy/drover.service (a line in drover.env would override it): its commented value is the unit's.
const SET_BY_UNIT = new Set(["DROVER_DATA_DIR"]);

Deno.test("deploy/drover.env names every setting, its commented defaults Drover's own", () => {
  const text = Deno.readTextFileSync(ENV_FILE);
  const missing = SETTINGS.filter((s) => !new RegExp(`^#?${s.env}=`, "m").test(text)).map((s) => s.env);
  assert.deepEqual(missing, [], `settings of server/config.ts not in deploy/drover.env: ${missing.join(", ")}`);

  const wrongDefaults: string[] = [];
  for (const s of SETTINGS) {
    const commented = text.match(new RegExp(`^#${s.env}=(.*)$`, "m"));
    if (!commented || !("default" in s) || SET_BY_UNIT.has(s.env)) continue;
    if (commented[1] !== s.default) wrongDefaults.push(`${s.env}: ${commented[1]} here, ${s.default} in Drover`);
  }
  assert.deepEqual(wrongDefaults, []);
});

Deno.test("deploy/drover.env is a production configuration Drover accepts", () => {
  const env = parseEnvironmentFile(Deno.readTextFileSync(ENV_FILE));
  const config = readConfig(env, [], { agentPath: "/var/cache/drover/build/agent/drover-agent.js" });
  assert.ok(config !== "help");

  const database = parsePostgresUrl(config.databaseUrl ?? "");
  assert.ok(database.hosts.length >= 2, "DATABASE_URL lists the primary and a standby");
  assert.equal(database.targetSessionAttrs, "read-write");
  assert.equal(config.etcdEndpoints?.length, 3, "ETCD_ENDPOINTS lists three members");
  assert.ok(config.adminToken && config.readonlyToken, "both tokens set: every replica accepts the same");
  assert.ok(config.inventory?.path && config.inventory.credentialsPath, "inventory and BMC credentials");
  assert.ok(config.ssh?.keyPath, "an SSH key to start agents");
  assert.equal(config.demo, false);
  assert.equal(config.simOwnedFleet, 0);
  assert.equal(config.listen.hostname, "0.0.0.0");
  assert.ok(!config.agentUrl.includes("127.0.0.1"), "machines reach the agent API at a real address");
  assert.equal(config.logFormat, "json");
});
