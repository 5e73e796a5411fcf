/**
 * The service's configuration: defaults, flags over variables, and every
 * problem reported at once with the setting's name, secrets never quoted.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ConfigError, readConfig, usage } from "../../server/config.ts";

function problems(env: Record<string, string>, args: string[] = []): string[] {
  try {
    readConfig(env, args);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("nothing set: embedded defaults", () => {
  const config = readConfig({}, []);
  assert.ok(config !== "help");
  assert.deepEqual(config.listen, { hostname: "127.0.0.1", port: 8080 });
  assert.equal(config.dataDir, "./data");
  assert.equal(config.agentUrl, "http://127.0.0.1:8080");
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.equinix, undefined);
  assert.deepEqual(config.dbRate, { intervalMs: 250, burst: 8 });
  assert.equal(config.logFormat, "text");
});

Deno.test("a flag wins over its variable; --help is recognised", () => {
  const config = readConfig({ DROVER_LISTEN: "127.0.0.1:1" }, ["--listen", "0.0.0.0:9000", "--max-devices", "3"]);
  assert.ok(config !== "help");
  assert.deepEqual(config.listen, { hostname: "0.0.0.0", port: 9000 });
  assert.equal(config.agentUrl, "http://127.0.0.1:9000");
  assert.equal(config.maxDevices, 3);
  assert.equal(readConfig({}, ["--help"]), "help");
  for (const name of ["DROVER_LISTEN", "DATABASE_URL", "ETCD_ENDPOINTS", "EQUINIX_API_TOKEN", "DROVER_SSH_KEY"]) {
    assert.match(usage(), new RegExp(name), name);
  }
});

Deno.test("every bad setting is reported at once, by name, without quoting secrets", () => {
  const found = problems({
    DROVER_LISTEN: "localhost",
    DATABASE_URL: "mysql://root:hunter2@db/x",
    DROVER_INITIALIZER_PARALLELISM: "-1",
    DROVER_DB_RATE: "fast",
    DROVER_LOG_FORMAT: "xml",
    EQUINIX_PROJECT_ID: "p-1",
  });
  const text = found.join("\n");
  for (
    const name of [
      "DROVER_LISTEN",
      "DATABASE_URL",
      "DROVER_INITIALIZER_PARALLELISM",
      "DROVER_DB_RATE",
      "DROVER_LOG_FORMAT",
      "EQUINIX_PROJECT_ID",
    ]
  ) {
    assert.match(text, new RegExp(`^${name} \\(--`, "m"), name);
  }
  assert.ok(!text.includes("hunter2"), "the database URL's password is not printed");
  assert.match(
    text,
    /DROVER_INITIALIZER_PARALLELISM \(--initializer-parallelism\) must be a whole number: current value is "-1"/,
  );
});

Deno.test("settings that go together, and unknown flags", () => {
  assert.deepEqual(problems({ EQUINIX_API_URL: "https://api.equinix.com/metal/v1" }), [
    "EQUINIX_API_URL, EQUINIX_API_TOKEN and EQUINIX_PROJECT_ID go together: set all three or none",
  ]);
  assert.match(problems({}, ["--parallelism", "3"])[0], /Unknown option '--parallelism'/);
  assert.match(problems({ DROVER_SSH_KEY: "/k" }).join("\n"), /DROVER_SSH_KEY and DROVER_AGENT_PATH go together/);
  const token = "t".repeat(20);
  assert.match(
    problems({ DROVER_ADMIN_TOKEN: token, DROVER_READONLY_TOKEN: token }).join(),
    /DROVER_READONLY_TOKEN must differ from DROVER_ADMIN_TOKEN/,
  );
  assert.match(
    problems({ DROVER_ADMIN_TOKEN: "short" }).join(),
    /^DROVER_ADMIN_TOKEN \(--admin-token\) must be at least 16 characters$/,
  );
});

Deno.test("machines you own: the inventory and its settings, and what goes with what", () => {
  const config = readConfig({
    DROVER_INVENTORY: "/etc/drover/inventory.yaml",
    DROVER_BMC_CREDENTIALS: "/etc/drover/bmc.yaml",
    DROVER_SSH_KEY: "/etc/drover/id_ed25519",
    DROVER_AGENT_PATH: "/opt/drover/drover-agent.js",
  }, ["--bmc-concurrency", "200", "--bmc-graceful-timeout", "90s"]);
  assert.ok(config !== "help");
  assert.deepEqual(config.inventory, {
    path: "/etc/drover/inventory.yaml",
    credentialsPath: "/etc/drover/bmc.yaml",
  });
  assert.deepEqual(config.bmc, { concurrency: 200, requestTimeoutMs: 30_000, gracefulTimeoutMs: 90_000 });
  assert.equal(config.simOwnedFleet, 0);
  assert.ok(config.ssh, "SSH needs a real provider: the inventory is one");

  const found = problems({ DROVER_BMC_CREDENTIALS: "/etc/drover/bmc.yaml" });
  assert.ok(found.some((p) => /^DROVER_BMC_CREDENTIALS needs DROVER_INVENTORY/.test(p)), found.join("\n"));
  const zero = problems({ DROVER_BMC_CONCURRENCY: "0" });
  assert.ok(zero.some((p) => /^DROVER_BMC_CONCURRENCY \(--bmc-concurrency\)/.test(p)), zero.join("\n"));
  const both = problems({ DROVER_INVENTORY: "inventory.yaml", DROVER_SIM_OWNED_FLEET: "4" });
  assert.ok(
    both.some((p) => /DROVER_SIM_OWNED_FLEET and DROVER_INVENTORY exclude each other/.test(p)),
    both.join("\n"),
  );
  for (const name of ["DROVER_INVENTORY", "DROVER_BMC_CREDENTIALS", "DROVER_SIM_OWNED_FLEET"]) {
    assert.match(usage(), new RegExp(name), name);
  }
});

Deno.test("DATABASE_URL with a host list, and ETCD_ENDPOINTS: each wrong entry named, nothing quoted secret", () => {
  const config = readConfig({
    DATABASE_URL: "postgres://drover:pw@db1:5432,db2:5433/drover",
    ETCD_ENDPOINTS: "http://etcd1:2379, http://etcd2:2379,http://etcd3:2379/",
  }, []);
  assert.ok(config !== "help");
  assert.equal(config.databaseUrl, "postgres://drover:pw@db1:5432,db2:5433/drover?target_session_attrs=read-write");
  assert.deepEqual(config.etcdEndpoints, ["http://etcd1:2379", "http://etcd2:2379", "http://etcd3:2379"]);
  assert.equal(config.databaseWaitMs, 300_000);

  const cases: [Record<string, string>, string][] = [
    [{ DATABASE_URL: "postgres://u:hunter2@db1,,db2/d" }, 'DATABASE_URL (--database-url) host 2 of 3 ("") has no host'],
    [{ DATABASE_URL: "postgres://u:hunter2@db1:5432,db2:x/d" }, 'host 2 of 2 ("db2:x"): the port "x" is not a number'],
    [
      { DATABASE_URL: "postgres://u:hunter2@db1,db2/d?target_session_attrs=standby" },
      'target_session_attrs "standby" would connect to standbys',
    ],
    [{ DATABASE_URL: "postgres://u:hunter2@db1,db1/d" }, "lists db1:5432 twice"],
    [{ DATABASE_URL: "postgres://u:hunter2@[::1]:5432,db2/d" }, "an IPv6 literal cannot be part of a host list"],
    [{ DATABASE_URL: "postgres://u:hunter2@/d" }, "names no host"],
    [
      { ETCD_ENDPOINTS: "http://etcd1:2379,etcd2:2379" },
      'ETCD_ENDPOINTS (--etcd-endpoints) entry 2 of 2 ("etcd2:2379")',
    ],
    [{ ETCD_ENDPOINTS: "http://etcd1:2379,,http://etcd2:2379" }, 'entry 2 of 3 ("") is empty (a stray comma?)'],
    [{ ETCD_ENDPOINTS: "http://etcd1:2379,http://etcd1:2379" }, "is listed twice"],
    [{ ETCD_ENDPOINTS: "http://etcd1:2379/v3" }, "must be scheme://host:port only"],
    [{ DROVER_DATABASE_WAIT: "forever" }, "DROVER_DATABASE_WAIT (--database-wait) must be a duration"],
  ];
  for (const [env, expected] of cases) {
    const text = problems(env).join("\n");
    assert.ok(text.includes(expected), `${JSON.stringify(env)}: ${text}`);
    assert.ok(!text.includes("hunter2"), `${JSON.stringify(env)} printed the password`);
  }
});
