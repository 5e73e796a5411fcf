/**
 * parseInventory(): the rules of the inventory file and its machines, each
 * problem at its line, column and path, table-driven (the bmc's rules are in
 * parse_inventory_bmc_test.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { type InventoryMachine, parseInventory } from "../../inventory/mod.ts";
import { HOST_KEY, HOST_KEY_LINE } from "./known_keys.ts";
import { assertProblems, type Expected, oneMachine } from "./problem_table.ts";

const problemCases: { name: string; text: string; problems: Expected[] }[] = [
  // The file as a whole.
  { name: "an empty file", text: "", problems: [[1, 1, "", "must be a mapping with machines"]] },
  { name: "a sequence at the top", text: "- id: a\n", problems: [[1, 1, "", "must be a mapping with machines"]] },
  { name: "no machines key", text: "{}\n", problems: [[1, 1, "machines", "is required"]] },
  {
    name: "machines: null",
    text: "machines:\n",
    problems: [[1, 10, "machines", "must be a sequence (use [] for none)"]],
  },
  { name: "machines: a mapping", text: "machines: {}\n", problems: [[1, 11, "machines", "must be a sequence"]] },
  {
    name: "an unknown top-level key, with a suggestion",
    text: "machines: []\nmachine: []\n",
    problems: [[2, 1, "machine", "unknown key 'machine' (did you mean 'machines'?)"]],
  },
  {
    name: "an unknown top-level key, without one",
    text: "machines: []\nversion: 2\n",
    problems: [[2, 1, "version", "unknown key 'version': expected machines"]],
  },
  // YAML syntax: the position comes from the yaml library.
  {
    name: "an unclosed flow sequence",
    text: "machines:\n  - id: a\n    ssh: [root@h\n",
    problems: [[4, 1, "", "is not valid YAML"]],
  },
  {
    name: "a key twice in one mapping",
    text: "machines:\n  - id: a\n    ssh: root@h\n    id: b\n",
    problems: [[4, 5, "", "is not valid YAML: a key appears twice in one mapping"]],
  },
  {
    name: "a tab as indentation",
    text: "machines:\n\t- id: a\n",
    problems: [[2, 1, "", "is not valid YAML"]],
  },
  {
    name: "two documents",
    text: "machines: []\n---\nmachines: []\n",
    problems: [[2, 1, "", "holds more than one document (---)"]],
  },
  {
    name: "an unknown tag, which YAML would quietly drop",
    text: oneMachine("id: !n17 a", "ssh: root@h"),
    problems: [[2, 9, "", "is not valid YAML: an unknown tag (!…): quote a value that starts with !"]],
  },
  {
    name: "an alias to no anchor",
    text: oneMachine("id: a", "ssh: *login"),
    problems: [[3, 10, "machines[0].ssh", "is an alias (*) to no anchor: quote a value that starts with *"]],
  },
  // A machine.
  {
    name: "a machine that is a string",
    text: "machines:\n  - n17\n",
    problems: [[2, 5, "machines[0]", "must be a mapping"]],
  },
  { name: "no id", text: oneMachine("ssh: root@h"), problems: [[2, 5, "machines[0].id", "is required"]] },
  { name: "no ssh", text: oneMachine("id: a"), problems: [[2, 5, "machines[0].ssh", "is required"]] },
  { name: "an empty id", text: oneMachine("id:", "ssh: root@h"), problems: [[2, 8, "machines[0].id", "is required"]] },
  {
    name: "an id with a space",
    text: oneMachine('id: "n 17"', "ssh: root@h"),
    problems: [[2, 9, "machines[0].id", 'must be 1 to 128 of A-Z a-z 0-9 . _ -: current value is "n 17"']],
  },
  {
    name: "an id of 129 characters",
    text: oneMachine(`id: ${"a".repeat(129)}`, "ssh: root@h"),
    problems: [[2, 9, "machines[0].id", "must be 1 to 128"]],
  },
  {
    name: "an id that is a mapping",
    text: oneMachine("id: {}", "ssh: root@h"),
    problems: [[2, 9, "machines[0].id", "must be a string"]],
  },
  {
    name: "duplicate ids name both lines",
    text: "machines:\n  - id: a\n    ssh: root@h1\n  - id: b\n    ssh: root@h2\n  - id: a\n    ssh: root@h3\n",
    problems: [[6, 9, "machines[2].id", 'id "a" is used twice, on lines 2 and 6']],
  },
  {
    name: "an unknown key in a machine, with a suggestion",
    text: oneMachine("id: a", "ssh: root@h", `hostkey: ${HOST_KEY_LINE}`),
    problems: [[4, 5, "machines[0].hostkey", "unknown key 'hostkey' (did you mean 'hostKey'?)"]],
  },
  {
    name: "a misspelt location",
    text: oneMachine("id: a", "ssh: root@h", "locaton: r1"),
    problems: [[4, 5, "machines[0].locaton", "unknown key 'locaton' (did you mean 'location'?)"]],
  },
  {
    name: "a location with a slash",
    text: oneMachine("id: a", "ssh: root@h", "location: ams1/r04"),
    problems: [[4, 15, "machines[0].location", 'must be 1 to 128 of A-Z a-z 0-9 . _ -: current value is "ams1/r04"']],
  },
  // ssh
  ...([
    ["root@", ""],
    ["root", ""],
    ["@10.0.0.5", ""],
    ["ro ot@10.0.0.5", ""],
    ["root@10.0.0.5:", ""],
    ["root@host:ssh", ""],
    ["root@2001:db8::1", "(an IPv6 host goes in brackets: root@[2001:db8::1]:22)"],
    ["root@10.0.0.5:0", "port must be 1 to 65535"],
    ["root@10.0.0.5:65536", "port must be 1 to 65535"],
    ["root@[10.0.0.5]:22", "host in brackets must be an IPv6 address"],
    ["root@[2001:db8::zz]", "host in brackets must be an IPv6 address"],
    ["root@-host-", "host must be a DNS name or an IP address"],
    ["root@a_b.example", "host must be a DNS name or an IP address"],
  ] as const).map(([ssh, why]) => ({
    name: `ssh ${JSON.stringify(ssh)}`,
    text: oneMachine("id: a", `ssh: "${ssh}"`),
    problems: [[3, 10, "machines[0].ssh", `${why || "must be user@host[:port], e.g. root@10.0.0.5:22"}`]] as Expected[],
  })),
  {
    name: "the ssh message quotes the value",
    text: oneMachine("id: a", "ssh: root@"),
    problems: [[3, 10, "machines[0].ssh", 'must be user@host[:port], e.g. root@10.0.0.5:22: current value is "root@"']],
  },
  // hostKey
  {
    name: "a host key without its key",
    text: oneMachine("id: a", "ssh: root@h", "hostKey: ssh-ed25519"),
    problems: [[4, 14, "machines[0].hostKey", "must be an OpenSSH public key line"]],
  },
  {
    name: "a known_hosts line",
    text: oneMachine("id: a", "ssh: root@h", `hostKey: 10.0.0.5 ${HOST_KEY}`),
    problems: [[4, 14, "machines[0].hostKey", "this looks like a known_hosts line"]],
  },
  {
    name: "a host key that is not base64",
    text: oneMachine("id: a", "ssh: root@h", "hostKey: ssh-ed25519 AAAA$$$$"),
    problems: [[4, 14, "machines[0].hostKey", "the key is not valid base64"]],
  },
  {
    name: "a host key whose data holds another type",
    text: oneMachine("id: a", "ssh: root@h", `hostKey: ${HOST_KEY.replace("ssh-ed25519", "ssh-rsa")}`),
    problems: [[4, 14, "machines[0].hostKey", 'the key says ssh-rsa but its data holds type "ssh-ed25519"']],
  },
  {
    name: "a host key whose data holds no type",
    text: oneMachine("id: a", "ssh: root@h", "hostKey: ssh-ed25519 AAAAAAAA"),
    problems: [[4, 14, "machines[0].hostKey", "its data holds no key type"]],
  },
  {
    name: "every problem at once, in file order",
    text: "machines:\n" +
      "  - id: a\n" +
      "    ssh: root@\n" +
      "    bmc: { url: http://b, credentials: c }\n" +
      "  - id: a\n" +
      "    ssh: root@h\n" +
      "    hostkey: x\n" +
      "extra: 1\n",
    problems: [
      [3, 10, "machines[0].ssh", "must be user@host[:port]"],
      [4, 17, "machines[0].bmc.url", "BMC URL is not https"],
      [5, 9, "machines[1].id", "is used twice, on lines 2 and 5"],
      [7, 5, "machines[1].hostkey", "did you mean 'hostKey'?"],
      [8, 1, "extra", "unknown key 'extra'"],
    ],
  },
];

for (const { name, text, problems } of problemCases) {
  Deno.test(`parseInventory() reports ${name}`, () => {
    const parsed = parseInventory(text, "inventory.yaml");
    assertProblems(parsed.problems, problems, "inventory.yaml");
  });
}

/** The machine the spec's example describes, with `overrides`. */
function machine(overrides: Partial<InventoryMachine>): InventoryMachine {
  return {
    id: "n1",
    ssh: { user: "root", host: "h", port: 22 },
    location: null,
    hostKey: null,
    bmc: null,
    agentPath: null,
    line: 2,
    ...overrides,
  };
}

const validCases: { name: string; text: string; machines: InventoryMachine[] }[] = [
  { name: "no machines", text: "machines: []\n", machines: [] },
  {
    name: "the documented example",
    text: `machines:
  - id: ams1-r04-n17            # the provider id
    ssh: root@10.20.4.17:22
    location: ams1-r04
    hostKey: ${HOST_KEY_LINE}
    bmc:
      url: https://10.21.4.17
      system: /redfish/v1/Systems/1
      credentials: rack-a
      tls: { ca: ./bmc-ca.pem }
  - id: ams1-r04-n18
    ssh: admin@[2001:db8::18]:2222
    bmc: { url: "http://10.21.4.18:8080/", credentials: rack-b, tls: insecure }
  - id: n19.lab_1
    ssh: root@bmc-less.example.com
`,
    machines: [
      {
        id: "ams1-r04-n17",
        ssh: { user: "root", host: "10.20.4.17", port: 22 },
        location: "ams1-r04",
        hostKey: HOST_KEY,
        bmc: {
          url: "https://10.21.4.17",
          system: "/redfish/v1/Systems/1",
          credentials: "rack-a",
          tls: { ca: "", caPath: resolve("conf/bmc-ca.pem") },
        },
        agentPath: null,
        line: 2,
      },
      {
        id: "ams1-r04-n18",
        ssh: { user: "admin", host: "2001:db8::18", port: 2222 },
        location: null,
        hostKey: null,
        bmc: { url: "http://10.21.4.18:8080", system: null, credentials: "rack-b", tls: "insecure" },
        agentPath: null,
        line: 11,
      },
      machine({ id: "n19.lab_1", ssh: { user: "root", host: "bmc-less.example.com", port: 22 }, line: 14 }),
    ],
  },
  {
    name: "JSON",
    text: JSON.stringify(
      {
        machines: [
          { id: "n1", ssh: "root@h" },
          { id: "n2", ssh: "root@h:2022", location: null, bmc: { url: "https://b", credentials: "c", tls: "verify" } },
        ],
      },
      null,
      2,
    ),
    machines: [
      machine({ line: 3 }),
      machine({
        id: "n2",
        ssh: { user: "root", host: "h", port: 2022 },
        bmc: { url: "https://b", system: null, credentials: "c", tls: "verify" },
        agentPath: null,
        line: 7,
      }),
    ],
  },
  {
    name: "defaults: port 22, no location, key or bmc, tls verify, null as absent",
    text: oneMachine("id: n1", "ssh: root@h", "location: ~", "hostKey:", "bmc:") +
      "  - { id: n2, ssh: root@h, bmc: { url: https://b, credentials: c, system: null, tls: null } }\n",
    machines: [
      machine({}),
      machine({ id: "n2", bmc: { url: "https://b", system: null, credentials: "c", tls: "verify" }, line: 7 }),
    ],
  },
  {
    name: "an id YAML would read as a number keeps its text",
    text: oneMachine("id: 0017", "ssh: root@h"),
    machines: [machine({ id: "0017" })],
  },
  {
    name: "an alias",
    text: "machines:\n" +
      "  - { id: n1, ssh: &login root@h }\n" +
      "  - { id: n2, ssh: *login }\n",
    machines: [machine({}), machine({ id: "n2", line: 3 })],
  },
];

for (const { name, text, machines } of validCases) {
  Deno.test(`parseInventory() reads ${name}`, () => {
    const parsed = parseInventory(text, "conf/inventory.yaml");
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.machines, machines);
  });
}

Deno.test("parseInventory() leaves out a machine with a problem and keeps the others", () => {
  const parsed = parseInventory(
    "machines:\n  - { id: n1, ssh: root@h }\n  - { id: n2, ssh: root@ }\n  - { id: n3, ssh: root@h }\n",
    "inventory.yaml",
  );
  assert.equal(parsed.problems.length, 1);
  assert.deepEqual(parsed.machines.map((m) => m.id), ["n1", "n3"]);
});

Deno.test("parseInventory() takes a machine's agentPath, and refuses one that names a directory", () => {
  const good = parseInventory(oneMachine("id: a", "ssh: root@h", "agentPath: /var/lib/drover/agent.js"), "inv.yaml");
  assert.deepEqual(good.problems, []);
  assert.equal(good.machines[0].agentPath, "/var/lib/drover/agent.js");
  const bad = parseInventory(oneMachine("id: a", "ssh: root@h", "agentPath: /var/lib/drover/"), "inv.yaml");
  assert.equal(bad.machines.length, 0);
  assert.match(bad.problems[0].message, /must be a file path/);
  assert.equal(bad.problems[0].path, "machines[0].agentPath");
});
