import assert from "node:assert/strict";
import { readConfig } from "../server/config.ts";
import { versionLine } from "./drover_cli.ts";

Deno.test("versionLine() names the version, the commit (marked dirty when it was) and the Deno inside", () => {
  const info = {
    version: "0.1.0",
    commit: "98a1166c2f05e1d2b3a4c5d6e7f8091a2b3c4d5e",
    dirty: true,
    builtAt: "2026-12-08T00:40:41Z",
    deno: "2.9.6",
  };
  assert.equal(
    versionLine(info),
    "drover 0.1.0 (commit 98a1166c2f05, dirty) built 2026-12-08T00:40:41Z with Deno 2.9.6",
  );
  assert.equal(
    versionLine({ ...info, commit: "unknown", dirty: false }),
    "drover 0.1.0 (commit unknown) built 2026-12-08T00:40:41Z with Deno 2.9.6",
  );
});

Deno.test("readConfig() takes the executable's agent as DROVER_AGENT_PATH once --ssh-key is set without it", () => {
  const embedded = { agentPath: "/cache/drover/0.1.0-x/agent/drover-agent.js" };
  const owned = ["--inventory", "inventory.yaml", "--ssh-key", "id_ed25519"];
  const config = readConfig({}, owned, embedded);
  assert.ok(config !== "help");
  assert.deepEqual(config.ssh, { keyPath: "id_ed25519", agentPath: embedded.agentPath });
  const given = readConfig({ DROVER_AGENT_PATH: "/opt/agent.js" }, owned, embedded);
  assert.ok(given !== "help");
  assert.equal(given.ssh?.agentPath, "/opt/agent.js");
  const noSsh = readConfig({}, [], embedded);
  assert.ok(noSsh !== "help");
  assert.equal(noSsh.ssh, undefined);
  assert.throws(() => readConfig({}, owned), /DROVER_SSH_KEY and DROVER_AGENT_PATH go together/);
});
