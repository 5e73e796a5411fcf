/**
 * The service's watched inventory: one warning per BMC whose certificate is
 * not checked (at start, and for a BMC a reload adds), the status the
 * Overview shows (the last reload's problem while there is one), and the
 * loops nudged when a reload changed the inventory.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { LogFields, Logger } from "../../bmdb/mod.ts";
import { watchInventory } from "../../server/providers.ts";

function recordingLogger(): Logger & { warnings: LogFields[] } {
  const warnings: LogFields[] = [];
  return { warnings, debug() {}, info() {}, error() {}, warn: (_message, fields) => warnings.push(fields ?? {}) };
}

// Two systems of one BMC: the same origin, one warning.
const machine = (id: string, url: string, tls: string, system = 1) =>
  `  - { id: ${id}, ssh: root@10.0.0.1, bmc: { url: "${url}", system: /redfish/v1/Systems/${system}, ` +
  `credentials: lab, tls: ${tls} } }`;

Deno.test("one warning per BMC without certificate checks, at start and for one a reload adds; a bad reload is shown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "drover-watch-inventory-" });
  try {
    const inventoryPath = `${dir}/inventory.yaml`;
    const credentialsPath = `${dir}/bmc.yaml`;
    await Deno.writeTextFile(credentialsPath, "lab: { username: admin, password: secret-pw }\n", { mode: 0o600 });
    await Deno.chmod(credentialsPath, 0o600);
    await Deno.writeTextFile(
      inventoryPath,
      ["machines:", machine("a", "http://10.1.0.1", "insecure"), machine("b", "http://10.1.0.1", "insecure", 2)]
        .join("\n") + "\n",
    );
    const logger = recordingLogger();
    const watched = await watchInventory({ path: inventoryPath, credentialsPath }, logger);
    try {
      assert.deepEqual(logger.warnings.map((w) => w.bmc), ["http://10.1.0.1"], "one warning for the BMC both name");
      const nudged = Promise.withResolvers<void>();
      const loop = {};
      watched.nudge.join(loop);
      watched.nudge.wait(loop, AbortSignal.timeout(10_000)).then(nudged.resolve, nudged.reject);

      await Deno.writeTextFile(
        inventoryPath,
        ["machines:", machine("a", "http://10.1.0.1", "insecure"), machine("c", "https://10.1.0.3", "insecure")]
          .join("\n") + "\n",
      );
      await watched.watcher.reload();
      await nudged.promise;
      assert.deepEqual(logger.warnings.map((w) => w.bmc), ["http://10.1.0.1", "https://10.1.0.3"]);
      assert.equal((await watched.status.watch().get()).machines, 2);

      await Deno.writeTextFile(inventoryPath, "machines:\n  - id: a\n    ssh: root@\n");
      await watched.watcher.reload();
      const shown = await watched.status.watch().get({ predicate: (s) => s.problem !== null });
      assert.match(shown.problem!, /inventory\.yaml:3:\d+: machines\[0\]\.ssh: /);
      assert.equal(shown.machines, 2, "the last good inventory's");
      assert.ok(!JSON.stringify(shown).includes("secret-pw"));
    } finally {
      await watched.watcher.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
