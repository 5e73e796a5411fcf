/**
 * InventoryWatcher against real files: edits in place and by rename, bad
 * edits, deletion, the credentials and CA files, and reload(). Each test
 * awaits the watcher's onReload/onProblem callbacks.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type Inventory, InventoryError, InventoryWatcher } from "../../inventory/mod.ts";
import { CA_PEM } from "./known_keys.ts";
import { makeTempDir, type TempDir } from "./temp_dir.ts";

/** What a callback reported. */
type Reported = { kind: "reload"; inventory: Inventory } | { kind: "problem"; error: InventoryError };

/** Records the watcher's callbacks; `next()` awaits the next one not yet taken. */
class Callbacks {
  readonly #unread: Reported[] = [];
  #waiter: ((reported: Reported) => void) | undefined;
  /** Every callback so far, taken or not. */
  readonly all: Reported[] = [];

  readonly onReload = (inventory: Inventory): void => this.#push({ kind: "reload", inventory });
  readonly onProblem = (error: InventoryError): void => this.#push({ kind: "problem", error });

  /** The next callback; fails the test if none comes within `timeoutMs`. */
  async next(what: string, timeoutMs = 10_000): Promise<Reported> {
    const unread = this.#unread.shift();
    if (unread !== undefined) return unread;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<Reported>((resolve, reject) => {
        this.#waiter = resolve;
        timer = setTimeout(() => reject(new Error(`no callback within ${timeoutMs} ms after ${what}`)), timeoutMs);
      });
    } finally {
      this.#waiter = undefined;
      clearTimeout(timer);
    }
  }

  async nextReload(what: string): Promise<Inventory> {
    const reported = await this.next(what);
    assert.equal(
      reported.kind,
      "reload",
      `after ${what}: ${reported.kind === "problem" ? reported.error.message : ""}`,
    );
    return (reported as { inventory: Inventory }).inventory;
  }

  async nextProblem(what: string): Promise<InventoryError> {
    const reported = await this.next(what);
    assert.equal(reported.kind, "problem", `after ${what}`);
    return (reported as { error: InventoryError }).error;
  }

  #push(reported: Reported): void {
    this.all.push(reported);
    if (this.#waiter !== undefined) this.#waiter(reported);
    else this.#unread.push(reported);
  }
}

const ONE = "machines:\n  - { id: n1, ssh: root@10.0.0.1 }\n";
const TWO = `${ONE}  - { id: n2, ssh: root@10.0.0.2 }\n`;

/** A started watcher on `inventory.yaml` (and `bmc.yaml` if written) in `dir`, with its callbacks. */
async function startWatcher(dir: TempDir, withCredentials = false) {
  const callbacks = new Callbacks();
  const watcher = await InventoryWatcher.start({
    inventoryPath: dir.file("inventory.yaml"),
    credentialsPath: withCredentials ? dir.file("bmc.yaml") : undefined,
    debounceMs: 50,
    onReload: callbacks.onReload,
    onProblem: callbacks.onProblem,
  });
  return { watcher, callbacks };
}

function ids(inventory: Inventory): string[] {
  return inventory.machines.map((m) => m.id);
}

Deno.test("InventoryWatcher.start() throws every problem of the first load, and watches nothing", async () => {
  await using dir = await makeTempDir();
  await dir.write("inventory.yaml", "machines:\n  - { id: n1 }\n");
  await assert.rejects(startWatcher(dir), (error) => {
    assert.ok(error instanceof InventoryError);
    assert.deepEqual(error.problems.map((p) => p.path), ["machines[0].ssh"]);
    return true;
  });
});

Deno.test("InventoryWatcher sees an edit in place that adds a machine", async () => {
  await using dir = await makeTempDir();
  await dir.write("inventory.yaml", ONE);
  const { watcher, callbacks } = await startWatcher(dir);
  await using _ = watcher;
  assert.deepEqual(ids(watcher.current), ["n1"]);

  await Deno.writeTextFile(dir.file("inventory.yaml"), TWO);
  const inventory = await callbacks.nextReload("the edit");

  assert.deepEqual(ids(inventory), ["n1", "n2"]);
  assert.equal(watcher.current, inventory);
  assert.equal(watcher.problem, null);
});

Deno.test("InventoryWatcher keeps the last good inventory through a bad edit, and a fix clears the problem", async () => {
  await using dir = await makeTempDir();
  await dir.write("inventory.yaml", ONE);
  const { watcher, callbacks } = await startWatcher(dir);
  await using _ = watcher;
  const good = watcher.current;

  await Deno.writeTextFile(dir.file("inventory.yaml"), `${ONE}  - { id: n2, ssh: root@ }\n`);
  const error = await callbacks.nextProblem("the bad edit");
  assert.deepEqual(error.problems.map((p) => [p.line, p.column, p.path]), [[3, 20, "machines[1].ssh"]]);
  assert.equal(watcher.problem, error);
  assert.equal(watcher.current, good, "the last good inventory stays current");

  await Deno.writeTextFile(dir.file("inventory.yaml"), TWO);
  const fixed = await callbacks.nextReload("the fix");
  assert.deepEqual(ids(fixed), ["n1", "n2"]);
  assert.equal(watcher.problem, null);
  assert.equal(watcher.current, fixed);
});

Deno.test("InventoryWatcher: going back to the last good file clears the problem without an onReload", async () => {
  await using dir = await makeTempDir();
  await dir.write("inventory.yaml", ONE);
  const { watcher, callbacks } = await startWatcher(dir);
  await using _ = watcher;

  await Deno.writeTextFile(dir.file("inventory.yaml"), "machines: [\n");
  await callbacks.nextProblem("the bad edit");
  await Deno.writeTextFile(dir.file("inventory.yaml"), `# back as it was\n${ONE}`);
  const reloaded = await watcher.reload();

  assert.ok(!(reloaded instanceof InventoryError));
  assert.equal(watcher.problem, null);
  assert.equal(watcher.current, reloaded);
  assert.equal(reloaded.machines[0].line, 3, "current is the file as now read");
  await watcher.close(); // and with it any reload the write started
  assert.deepEqual(callbacks.all.map((r) => r.kind), ["problem"], "nothing changed, so no onReload");
});

Deno.test("InventoryWatcher sees a file replaced by rename, as editors and config management do", async () => {
  await using dir = await makeTempDir();
  await dir.write("inventory.yaml", ONE);
  const { watcher, callbacks } = await startWatcher(dir);
  await using _ = watcher;

  await dir.replace("inventory.yaml", TWO);
  assert.deepEqual(ids(await callbacks.nextReload("the rename")), ["n1", "n2"]);

  await dir.replace("inventory.yaml", ONE);
  assert.deepEqual(ids(await callbacks.nextReload("the second rename")), ["n1"]);
});

Deno.test("InventoryWatcher reports a deleted file and sees it come back", async () => {
  await using dir = await makeTempDir();
  await dir.write("inventory.yaml", ONE);
  const { watcher, callbacks } = await startWatcher(dir);
  await using _ = watcher;
  const good = watcher.current;

  await Deno.remove(dir.file("inventory.yaml"));
  const error = await callbacks.nextProblem("the deletion");
  assert.deepEqual(error.problems, [{
    file: dir.file("inventory.yaml"),
    line: 0,
    column: 0,
    path: "",
    message: "file is missing",
  }]);
  assert.equal(watcher.current, good);
  assert.equal(watcher.problem, error);

  await dir.write("inventory.yaml", TWO);
  assert.deepEqual(ids(await callbacks.nextReload("the new file")), ["n1", "n2"]);
  assert.equal(watcher.problem, null);
});

Deno.test("InventoryWatcher sees the credentials file: a loose mode is a problem, a new password a reload", async () => {
  await using dir = await makeTempDir();
  await dir.write(
    "inventory.yaml",
    "machines:\n  - { id: n1, ssh: root@h, bmc: { url: https://b, credentials: rack-a } }\n",
  );
  await dir.write("bmc.yaml", "rack-a: { username: admin, password: old-secret }\n");
  const { watcher, callbacks } = await startWatcher(dir, true);
  await using _ = watcher;

  await Deno.chmod(dir.file("bmc.yaml"), 0o644);
  const error = await callbacks.nextProblem("the chmod");
  assert.match(error.message, /bmc\.yaml: file is readable by group or others \(mode 0644\): chmod 600 it/);
  assert.equal(watcher.current.credentials("rack-a")?.password, "old-secret");

  await dir.replace("bmc.yaml", "rack-a: { username: admin, password: new-secret }\n", 0o600);
  const inventory = await callbacks.nextReload("the new password");
  assert.equal(inventory.credentials("rack-a")?.password, "new-secret");
  assert.equal(watcher.problem, null);
});

Deno.test("InventoryWatcher sees a CA file change, and a CA file in another directory", async () => {
  await using dir = await makeTempDir();
  await Deno.mkdir(dir.file("pki"));
  await dir.write("pki/ca.pem", CA_PEM);
  await dir.write("bmc.yaml", "rack-a: { username: admin, password: x }\n");
  await dir.write(
    "inventory.yaml",
    "machines:\n  - { id: n1, ssh: root@h, bmc: { url: https://b, credentials: rack-a, tls: { ca: pki/ca.pem } } }\n",
  );
  const { watcher, callbacks } = await startWatcher(dir, true);
  await using _ = watcher;

  const renewed = `# renewed\n${CA_PEM}`;
  await dir.replace("pki/ca.pem", renewed);
  const inventory = await callbacks.nextReload("the CA change");
  assert.deepEqual(inventory.machine("n1")?.bmc?.tls, { ca: renewed, caPath: dir.file("pki/ca.pem") });

  await Deno.remove(dir.file("pki/ca.pem"));
  const error = await callbacks.nextProblem("the CA deletion");
  assert.deepEqual(error.problems.map((p) => p.path), ["machines[0].bmc.tls.ca"]);
});

Deno.test("InventoryWatcher sees a symlinked file's target swapped, as Kubernetes updates a ConfigMap", async () => {
  await using dir = await makeTempDir();
  // The volume's layout: inventory.yaml → ..data/inventory.yaml, ..data → ..v1; an update makes ..v2 and
  // renames a new ..data link over the old, so no event names inventory.yaml itself.
  await Deno.mkdir(dir.file("..v1"));
  await dir.write("..v1/inventory.yaml", ONE);
  await Deno.symlink("..v1", dir.file("..data"));
  await Deno.symlink("..data/inventory.yaml", dir.file("inventory.yaml"));
  const { watcher, callbacks } = await startWatcher(dir);
  await using _ = watcher;

  await Deno.mkdir(dir.file("..v2"));
  await dir.write("..v2/inventory.yaml", TWO);
  await Deno.symlink("..v2", dir.file("..data_tmp"));
  await Deno.rename(dir.file("..data_tmp"), dir.file("..data"));

  assert.deepEqual(ids(await callbacks.nextReload("the swap")), ["n1", "n2"]);
});

Deno.test("InventoryWatcher.reload() reads the files now: the error or the inventory", async () => {
  await using dir = await makeTempDir();
  await dir.write("inventory.yaml", ONE);
  const { watcher, callbacks } = await startWatcher(dir);
  await using _ = watcher;
  // The watch would see these writes too; reload() is queued with any reload they start, so each is read in order.
  await Deno.writeTextFile(dir.file("inventory.yaml"), "machines: {}\n");
  const error = await watcher.reload();
  assert.ok(error instanceof InventoryError);
  assert.equal(watcher.problem, error);

  await Deno.writeTextFile(dir.file("inventory.yaml"), TWO);
  const inventory = await watcher.reload();
  assert.ok(!(inventory instanceof InventoryError));
  assert.deepEqual(ids(inventory), ["n1", "n2"]);
  assert.equal(watcher.current, inventory);
  assert.equal(watcher.problem, null);

  await watcher.close();
  const kinds = callbacks.all.map((r) => r.kind);
  assert.equal(kinds[0], "problem");
  assert.equal(kinds.filter((k) => k === "reload").length, 1, `one change, one onReload: ${kinds}`);
});
