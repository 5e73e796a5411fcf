/**
 * parseCredentials(): the BMC credentials file's rules, table-driven, and
 * that no problem, message or inspection ever shows a password.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type BmcCredential, InventoryError, parseCredentials } from "../../inventory/mod.ts";
import { assertProblems, type Expected } from "./problem_table.ts";

const problemCases: { name: string; text: string; problems: Expected[] }[] = [
  { name: "an empty file", text: "", problems: [[1, 1, "", "must be a mapping of names to { username, password }"]] },
  { name: "a list", text: "- admin\n", problems: [[1, 1, "", "must be a mapping of names"]] },
  {
    name: "an entry that is a string",
    text: "rack-a: admin\n",
    problems: [[1, 9, "rack-a", "must be a mapping with username and password"]],
  },
  { name: "no password", text: "rack-a: { username: admin }\n", problems: [[1, 9, "rack-a.password", "is required"]] },
  {
    name: "no username, on its own lines",
    text: "rack-a:\n  password: calvin\n",
    problems: [[2, 3, "rack-a.username", "is required"]],
  },
  {
    name: "an empty username",
    text: 'rack-a: { username: "", password: calvin }\n',
    problems: [[1, 21, "rack-a.username", "is required (empty here)"]],
  },
  {
    name: "a null password",
    text: "rack-a: { username: root, password: ~ }\n",
    problems: [[1, 37, "rack-a.password", "is required (empty here)"]],
  },
  {
    name: "a password that is a list",
    text: "rack-a: { username: root, password: [calvin] }\n",
    problems: [[1, 37, "rack-a.password", "must be a string"]],
  },
  {
    name: "a misspelt key, not quoted but suggested",
    text: "rack-a:\n  username: root\n  pasword: calvin\n",
    problems: [
      [2, 3, "rack-a.password", "is required"],
      [3, 3, "rack-a", "unknown key (did you mean 'password'?)"],
    ],
  },
  {
    name: "a key beside username and password",
    text: "rack-a: { username: root, password: calvin, realm: x }\n",
    problems: [[1, 45, "rack-a", "unknown key: expected username, password"]],
  },
  {
    name: "a name that is not a word",
    text: '"rack a": { username: root }\n',
    problems: [[1, 11, '["rack a"].password', "is required"]],
  },
  {
    name: "a YAML syntax error",
    text: "rack-a: { username: root, password: calvin\n",
    problems: [[2, 1, "", "is not valid YAML"]],
  },
  {
    name: "a name twice",
    text: "rack-a: { username: root, password: calvin }\nrack-a: { username: root, password: calvin }\n",
    problems: [[2, 1, "", "is not valid YAML: a key appears twice in one mapping"]],
  },
];

for (const { name, text, problems } of problemCases) {
  Deno.test(`parseCredentials() reports ${name}`, () => {
    assertProblems(parseCredentials(text, "bmc.yaml").problems, problems, "bmc.yaml");
  });
}

const validCases: { name: string; text: string; credentials: [string, BmcCredential][] }[] = [
  { name: "an empty mapping", text: "{}\n", credentials: [] },
  {
    name: "the documented example",
    text: 'rack-a: { username: admin, password: "s3cret" }\nrack-b:\n  username: root\n  password: calvin\n',
    credentials: [["rack-a", { username: "admin", password: "s3cret" }], ["rack-b", {
      username: "root",
      password: "calvin",
    }]],
  },
  {
    name: "JSON",
    text: JSON.stringify({ "rack-a": { username: "admin", password: "s3cret" } }),
    credentials: [["rack-a", { username: "admin", password: "s3cret" }]],
  },
  {
    name: "values YAML would read as numbers or booleans, as written",
    text: "1234: { username: 0017, password: 0123 }\nrack-b: { username: true, password: 1e3 }\n",
    credentials: [["1234", { username: "0017", password: "0123" }], ["rack-b", { username: "true", password: "1e3" }]],
  },
];

for (const { name, text, credentials } of validCases) {
  Deno.test(`parseCredentials() reads ${name}`, () => {
    const parsed = parseCredentials(text, "bmc.yaml");
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual([...parsed.credentials], credentials);
  });
}

/** Files with bad entries and syntax errors, each holding the passwords below. */
const PASSWORDS = ["s3cret-Alpha", "hunter2-Bravo", "c4lvin-Charlie", "0xDelta", "\\Echo"];
const secretFiles = [
  `rack-a: { username: admin, password: ${PASSWORDS[0]}, realm: x }\n` + // an unknown key beside it
  `rack-b: { ${PASSWORDS[1]} }\n` + // the password as a key
  `rack-c: ${PASSWORDS[2]}\n` + // the password as the entry
  `rack-d: { username: "", password: ${PASSWORDS[3]} }\n` + // an empty username
  `${PASSWORDS[1]}: { username: root }\n`.replace(PASSWORDS[1], "rack-e"),
  `rack-a: { username: admin, password: "${PASSWORDS[4]}" }\n`, // an invalid escape: yaml's message quotes it
  `rack-a: { username: admin, password: !${PASSWORDS[0]} }\nrack-b: { username: admin, password: *${PASSWORDS[1]} }\n`,
  `rack-a: { username: admin, password: ${PASSWORDS[0]}\n`, // unclosed
  `rack-a: { username: admin, password: @${PASSWORDS[0]} }\n`, // a reserved first character
  `${PASSWORDS[2]}\n`, // a bare scalar
];

for (const [index, text] of secretFiles.entries()) {
  Deno.test(`parseCredentials() never shows a password in a problem (file ${index + 1})`, () => {
    const { problems, credentials } = parseCredentials(text, "bmc.yaml");
    assert.ok(problems.length > 0, "each file has a problem");
    const everything = [
      new InventoryError(problems).message,
      String(new InventoryError(problems)),
      JSON.stringify(problems),
      Deno.inspect(problems, { depth: 10 }),
    ].join("\n");
    for (const password of PASSWORDS) {
      assert.ok(!everything.includes(password), `${password} shown in:\n${everything}`);
      // A password's core (without YAML's escapes or sigils) must not show either.
      assert.ok(!everything.includes(password.replace(/^\\/, "")), `${password} shown in:\n${everything}`);
    }
    assert.ok(credentials.size <= 1);
  });
}

Deno.test("a BmcCredential shows its password to code but not in JSON or inspection", () => {
  const { credentials } = parseCredentials('rack-a: { username: admin, password: "s3cret" }\n', "bmc.yaml");
  const credential = credentials.get("rack-a");
  assert.equal(credential?.password, "s3cret");
  assert.deepEqual({ ...credential }, { username: "admin", password: "s3cret" });
  for (
    const text of [JSON.stringify(credential), Deno.inspect(credential), Deno.inspect(credentials), String(credentials)]
  ) {
    assert.ok(!text.includes("s3cret"), text);
  }
  assert.ok(Deno.inspect(credential).includes('username: "admin"'));
});
