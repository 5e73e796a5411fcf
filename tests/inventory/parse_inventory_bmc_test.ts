/**
 * parseInventory(): the rules of a machine's bmc, each problem at its line,
 * column and path, table-driven.
 *
 * @module
 */
import assert from "node:assert/strict";
import { parseInventory } from "../../inventory/mod.ts";
import { assertProblems, type Expected, oneMachine } from "./problem_table.ts";

const problemCases: { name: string; text: string; problems: Expected[] }[] = [
  {
    name: "a bmc that is a URL",
    text: oneMachine("id: a", "ssh: root@h", "bmc: https://10.21.4.17"),
    problems: [[4, 10, "machines[0].bmc", "must be a mapping with url and credentials"]],
  },
  {
    name: "a bmc without url or credentials",
    text: oneMachine("id: a", "ssh: root@h", "bmc:", "  system: /redfish/v1/Systems/1"),
    problems: [
      [5, 7, "machines[0].bmc.url", "is required"],
      [5, 7, "machines[0].bmc.credentials", "is required"],
    ],
  },
  {
    name: "an unknown key in a bmc",
    text: oneMachine("id: a", "ssh: root@h", "bmc: { url: https://b, credentials: c, credential: c }"),
    problems: [[4, 44, "machines[0].bmc.credential", "unknown key 'credential' (did you mean 'credentials'?)"]],
  },
  ...([
    ["not a url", "must be the BMC's origin, e.g. https://10.21.4.17"],
    ["ftp://10.21.4.17", "scheme must be https or http"],
    ["https://10.21.4.17/redfish/v1", "no path, query or fragment"],
    ["https://10.21.4.17/?x=1", "no path, query or fragment"],
    ["https://10.21.4.17#top", "no path, query or fragment"],
    ["https://admin:p4ssw0rd@10.21.4.17", "must not hold a user name or password"],
    ["http://10.21.4.17", "BMC URL is not https: set tls: insecure to use it anyway"],
  ] as const).map(([url, message]) => ({
    name: `bmc url ${JSON.stringify(url)}`,
    text: oneMachine("id: a", "ssh: root@h", "bmc:", `  url: "${url}"`, "  credentials: rack-a"),
    problems: [[5, 12, "machines[0].bmc.url", message]] as Expected[],
  })),
  {
    name: "an http BMC with a CA",
    text: oneMachine("id: a", "ssh: root@h", "bmc:", "  url: http://b", "  credentials: c", "  tls: { ca: ./ca.pem }"),
    problems: [[7, 12, "machines[0].bmc.tls", "a CA needs an https BMC URL"]],
  },
  {
    name: "a system outside /redfish/v1/Systems/",
    text: oneMachine(
      "id: a",
      "ssh: root@h",
      "bmc:",
      "  url: https://b",
      "  system: /redfish/v1/Chassis/1",
      "  credentials: c",
    ),
    problems: [[
      6,
      15,
      "machines[0].bmc.system",
      'must be a Redfish system, e.g. /redfish/v1/Systems/1: current value is "/redfish/v1/Chassis/1"',
    ]],
  },
  {
    name: "the Systems collection is not a system",
    text: oneMachine(
      "id: a",
      "ssh: root@h",
      "bmc:",
      "  url: https://b",
      "  system: /redfish/v1/Systems/",
      "  credentials: c",
    ),
    problems: [[6, 15, "machines[0].bmc.system", "must be a Redfish system"]],
  },
  {
    name: "an empty credentials name",
    text: oneMachine("id: a", "ssh: root@h", "bmc:", "  url: https://b", '  credentials: ""'),
    problems: [[6, 20, "machines[0].bmc.credentials", "is required (empty here)"]],
  },
  {
    name: "a misspelt tls",
    text: oneMachine("id: a", "ssh: root@h", "bmc:", "  url: https://b", "  credentials: c", "  tls: verfy"),
    problems: [[
      7,
      12,
      "machines[0].bmc.tls",
      'must be verify, insecure or { ca: ./bmc-ca.pem }: current value is "verfy"',
    ]],
  },
  {
    name: "a tls mapping without ca",
    text: oneMachine(
      "id: a",
      "ssh: root@h",
      "bmc:",
      "  url: https://b",
      "  credentials: c",
      "  tls: { cert: ./ca.pem }",
    ),
    problems: [
      [7, 14, "machines[0].bmc.tls.cert", "unknown key 'cert': expected ca"],
      [7, 12, "machines[0].bmc.tls.ca", "is required"],
    ].toSorted((a, b) => (a[1] as number) - (b[1] as number)) as Expected[],
  },
  {
    name: "two machines on one BMC name both lines",
    text: "machines:\n" +
      "  - { id: a, ssh: root@h1, bmc: { url: https://b, credentials: c } }\n" +
      "  - { id: b, ssh: root@h2, bmc: { url: https://B:443/, credentials: c } }\n",
    problems: [[3, 33, "machines[1].bmc", "same BMC (url and system) as machines[0], on lines 2 and 3"]],
  },
  {
    name: "two machines on one BMC and system",
    text: "machines:\n" +
      "  - { id: a, ssh: root@h1, bmc: { url: https://b, system: /redfish/v1/Systems/1, credentials: c } }\n" +
      "  - { id: b, ssh: root@h2, bmc: { url: https://b, system: /redfish/v1/Systems/1/, credentials: c } }\n",
    problems: [[3, 33, "machines[1].bmc", "same BMC (url and system)"]],
  },
];

for (const { name, text, problems } of problemCases) {
  Deno.test(`parseInventory() reports ${name}`, () => {
    assertProblems(parseInventory(text, "inventory.yaml").problems, problems, "inventory.yaml");
  });
}

Deno.test("parseInventory() never quotes a BMC URL that holds a password", () => {
  const text = oneMachine("id: a", "ssh: root@h", "bmc: { url: 'https://admin:p4ss@b', credentials: c }");
  const { problems } = parseInventory(text, "inventory.yaml");
  assert.equal(problems.length, 1);
  assert.ok(!JSON.stringify(problems).includes("p4ss"));
});
