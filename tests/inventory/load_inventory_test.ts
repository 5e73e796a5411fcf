/**
 * loadInventory(): both files and the CA files from disk, the credentials
 * file's mode, the names between the files, and every problem at once.
 *
 * @module
 */
import assert from "node:assert/strict";
import { InventoryError, type InventoryProblem, loadInventory } from "../../inventory/mod.ts";
import { CA_PEM, HOST_KEY, HOST_KEY_LINE } from "./known_keys.ts";
import { makeTempDir } from "./temp_dir.ts";

const INVENTORY = `machines:
  - id: ams1-r04-n17
    ssh: root@10.20.4.17:22
    location: ams1-r04
    hostKey: ${HOST_KEY_LINE}
    bmc:
      url: https://10.21.4.17
      credentials: rack-a
      tls: { ca: ./bmc-ca.pem }
  - id: ams1-r04-n18
    ssh: root@10.20.4.18
    bmc: { url: https://10.21.4.18, credentials: rack-b }
  - id: ams1-r04-n19
    ssh: root@10.20.4.19
`;
const CREDENTIALS = 'rack-a: { username: admin, password: "s3cret" }\nrack-b:\n  username: root\n  password: calvin\n';

/** Loads, expecting an InventoryError, and returns its problems. */
async function problemsOf(options: Parameters<typeof loadInventory>[0]): Promise<InventoryProblem[]> {
  const error = await loadInventory(options).then(() => undefined, (error) => error);
  assert.ok(error instanceof InventoryError, `expected an InventoryError, got ${error}`);
  return error.problems;
}

/** A problem as [file, line, column, path, message]. */
function rows(problems: InventoryProblem[]): [string, number, number, string, string][] {
  return problems.map((p) => [p.file, p.line, p.column, p.path, p.message]);
}

Deno.test("loadInventory() reads both files and the CA file", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write("inventory.yaml", INVENTORY, 0o644);
  const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS, 0o600);
  const caPath = await dir.write("bmc-ca.pem", CA_PEM, 0o644);
  const before = new Date();

  const inventory = await loadInventory({ inventoryPath, credentialsPath });

  assert.equal(inventory.path, inventoryPath);
  assert.ok(inventory.loadedAt >= before);
  assert.deepEqual(inventory.machines.map((m) => m.id), ["ams1-r04-n17", "ams1-r04-n18", "ams1-r04-n19"]);
  assert.deepEqual(inventory.machine("ams1-r04-n17"), {
    id: "ams1-r04-n17",
    ssh: { user: "root", host: "10.20.4.17", port: 22 },
    location: "ams1-r04",
    hostKey: HOST_KEY,
    bmc: { url: "https://10.21.4.17", system: null, credentials: "rack-a", tls: { ca: CA_PEM, caPath } },
    agentPath: null,
    line: 2,
  });
  assert.equal(inventory.machine("ams1-r04-n19")?.bmc, null);
  assert.equal(inventory.machine("nope"), undefined);
  assert.deepEqual({ ...inventory.credentials("rack-b") }, { username: "root", password: "calvin" });
  assert.equal(inventory.credentials("rack-c"), undefined);
  assert.ok(!Deno.inspect(inventory, { depth: 10 }).includes("s3cret"), "inspecting an inventory shows no password");
});

Deno.test("loadInventory() takes a CA path from the inventory file's directory, not the working directory", async () => {
  await using dir = await makeTempDir();
  await Deno.mkdir(dir.file("conf"));
  await Deno.mkdir(dir.file("conf/ca"));
  const caPath = await dir.write("conf/ca/bmc.pem", CA_PEM);
  const inventoryPath = await dir.write(
    "conf/inventory.json",
    JSON.stringify({
      machines: [{ id: "n1", ssh: "root@h", bmc: { url: "https://b", credentials: "c", tls: { ca: "ca/bmc.pem" } } }],
    }),
  );
  const credentialsPath = await dir.write("conf/bmc.json", JSON.stringify({ c: { username: "u", password: "p" } }));

  const inventory = await loadInventory({ inventoryPath, credentialsPath });

  assert.deepEqual(inventory.machine("n1")?.bmc?.tls, { ca: CA_PEM, caPath });
});

Deno.test("loadInventory() needs no credentials file when no machine has a bmc", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write("inventory.yaml", "machines:\n  - { id: n1, ssh: root@h }\n");
  const inventory = await loadInventory({ inventoryPath });
  assert.deepEqual(inventory.machines.map((m) => m.id), ["n1"]);
});

Deno.test("loadInventory() reports a missing inventory file, naming it", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = dir.file("inventory.yaml");
  const problems = await problemsOf({ inventoryPath });
  assert.deepEqual(rows(problems), [[inventoryPath, 0, 0, "", "file is missing"]]);
});

Deno.test("loadInventory() reports a directory where the inventory file should be", async () => {
  await using dir = await makeTempDir();
  assert.deepEqual(rows(await problemsOf({ inventoryPath: dir.path })), [[dir.path, 0, 0, "", "is not a file"]]);
});

Deno.test("loadInventory() reports a missing credentials file, and a missing inventory file beside it", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = dir.file("inventory.yaml");
  const credentialsPath = dir.file("bmc.yaml");
  const problems = await problemsOf({ inventoryPath, credentialsPath });
  assert.deepEqual(rows(problems), [
    [inventoryPath, 0, 0, "", "file is missing"],
    [credentialsPath, 0, 0, "", "file is missing"],
  ]);
  assert.equal(
    new InventoryError(problems).message,
    `Invalid inventory (2 problems):\n  ${inventoryPath}: file is missing\n  ${credentialsPath}: file is missing`,
  );
});

for (const mode of [0o644, 0o640, 0o604, 0o660, 0o620]) {
  const octal = mode.toString(8).padStart(4, "0");
  Deno.test(`loadInventory() refuses a credentials file of mode ${octal}, as ssh refuses a loose key`, async () => {
    await using dir = await makeTempDir();
    const inventoryPath = await dir.write("inventory.yaml", INVENTORY);
    await dir.write("bmc-ca.pem", CA_PEM);
    const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS, mode);
    const problems = await problemsOf({ inventoryPath, credentialsPath });
    const reach = mode & 0o044 ? "readable" : "writable or executable";
    // Refused unread: no names are checked against it, and nothing of it shows.
    assert.deepEqual(rows(problems), [
      [credentialsPath, 0, 0, "", `file is ${reach} by group or others (mode ${octal}): chmod 600 it`],
    ]);
    assert.ok(new InventoryError(problems).message.includes(`${credentialsPath}: file is ${reach} by group`));
  });
}

for (const mode of [0o600, 0o400]) {
  Deno.test(`loadInventory() accepts a credentials file of mode 0${mode.toString(8)}`, async () => {
    await using dir = await makeTempDir();
    const inventoryPath = await dir.write("inventory.yaml", INVENTORY);
    await dir.write("bmc-ca.pem", CA_PEM);
    const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS, mode);
    const inventory = await loadInventory({ inventoryPath, credentialsPath });
    assert.equal(inventory.credentials("rack-a")?.password, "s3cret");
  });
}

Deno.test("loadInventory() reports a credentials name the credentials file lacks, where the machine names it", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write(
    "inventory.yaml",
    INVENTORY.replace("credentials: rack-b", "credentials: rack-c"),
  );
  await dir.write("bmc-ca.pem", CA_PEM);
  const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS);
  const problems = await problemsOf({ inventoryPath, credentialsPath });
  assert.deepEqual(rows(problems), [
    [inventoryPath, 12, 50, "machines[1].bmc.credentials", '"rack-c" is not an entry of the credentials file'],
  ]);
});

Deno.test("loadInventory() reports a bmc when no credentials file is set", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write("inventory.yaml", INVENTORY);
  await dir.write("bmc-ca.pem", CA_PEM);
  const problems = await problemsOf({ inventoryPath });
  assert.deepEqual(rows(problems), [[
    inventoryPath,
    8,
    20,
    "machines[0].bmc.credentials",
    "no BMC credentials file is set: set DROVER_BMC_CREDENTIALS or --bmc-credentials (2 machines have a bmc)",
  ]]);
});

Deno.test("loadInventory() reports a missing CA file where it is first named, with the other lines", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write(
    "inventory.yaml",
    INVENTORY.replace("credentials: rack-b }", "credentials: rack-b, tls: { ca: bmc-ca.pem } }"),
  );
  const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS);
  const problems = await problemsOf({ inventoryPath, credentialsPath });
  assert.deepEqual(rows(problems), [[
    inventoryPath,
    9,
    18,
    "machines[0].bmc.tls.ca",
    `file is missing: ${dir.file("bmc-ca.pem")} (also named on line 12)`,
  ]]);
});

for (
  const [name, text, message] of [
    ["no PEM block", "hello\n", "must hold a PEM certificate (-----BEGIN CERTIFICATE-----), and holds none"],
    ["a private key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "and holds none"],
    [
      "a block that is no certificate",
      "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      "its certificate is not one",
    ],
    [
      "a bad second certificate",
      `${CA_PEM}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`,
      "certificate 2 of 2 is not one",
    ],
  ]
) {
  Deno.test(`loadInventory() reports a CA file holding ${name}`, async () => {
    await using dir = await makeTempDir();
    const inventoryPath = await dir.write("inventory.yaml", INVENTORY);
    const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS);
    const caPath = await dir.write("bmc-ca.pem", text);
    const problems = await problemsOf({ inventoryPath, credentialsPath });
    assert.equal(problems.length, 1);
    assert.deepEqual(rows(problems)[0].slice(0, 4), [inventoryPath, 9, 18, "machines[0].bmc.tls.ca"]);
    assert.ok(problems[0].message.startsWith(`${caPath} must hold`), problems[0].message);
    assert.ok(problems[0].message.includes(message), problems[0].message);
  });
}

Deno.test("loadInventory() accepts a CA bundle of two certificates with text around them", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write("inventory.yaml", INVENTORY);
  const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS);
  const bundle = `# rack A\n${CA_PEM}\n# rack B\n${CA_PEM}`;
  await dir.write("bmc-ca.pem", bundle);
  const inventory = await loadInventory({ inventoryPath, credentialsPath });
  assert.deepEqual(inventory.machine("ams1-r04-n17")?.bmc?.tls, { ca: bundle, caPath: dir.file("bmc-ca.pem") });
});

Deno.test("loadInventory() reports every problem of every file at once, inventory first", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write(
    "inventory.yaml",
    INVENTORY.replace("root@10.20.4.18", "root@").replace("rack-b", "rack-x").replace("./bmc-ca.pem", "./none.pem"),
  );
  const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS.replace("password: calvin", "pasword: calvin"));
  const problems = await problemsOf({ inventoryPath, credentialsPath });
  assert.deepEqual(rows(problems).map(([file, line, column, path]) => [file, line, column, path]), [
    [inventoryPath, 9, 18, "machines[0].bmc.tls.ca"],
    [inventoryPath, 11, 10, "machines[1].ssh"],
    [inventoryPath, 12, 50, "machines[1].bmc.credentials"],
    [credentialsPath, 3, 3, "rack-b.password"],
    [credentialsPath, 4, 3, "rack-b"],
  ]);
  const message = new InventoryError(problems).message;
  assert.equal(message.split("\n").length, 1 + problems.length, "one line per problem");
  assert.ok(message.includes(`${inventoryPath}:11:10: machines[1].ssh: must be user@host[:port]`), message);
});

Deno.test("loadInventory() does not call an entry with problems missing", async () => {
  await using dir = await makeTempDir();
  const inventoryPath = await dir.write("inventory.yaml", INVENTORY);
  await dir.write("bmc-ca.pem", CA_PEM);
  const credentialsPath = await dir.write("bmc.yaml", CREDENTIALS.replace('password: "s3cret"', 'password: ""'));
  const problems = await problemsOf({ inventoryPath, credentialsPath });
  assert.deepEqual(rows(problems).map(([file, , , path]) => [file, path]), [[credentialsPath, "rack-a.password"]]);
  assert.ok(!JSON.stringify(problems).includes("calvin"));
});
