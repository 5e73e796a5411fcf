/**
 * The one executable (release/build.ts): built into a temporary directory
 * (or `DROVER_TEST_BINARY`, a build of this checkout made for this run), then
 * run as an operator would on a host with no checkout and no network:
 * an empty working directory, HOME and the cache in temporary directories,
 * an empty DENO_DIR, and npm's registry and any HTTPS proxy on a dead
 * loopback port (so any download at start fails).
 *
 * - Two first runs at once (`--version`) both unpack, both work, and leave
 *   exactly one build directory and no half-unpacked one; the version line
 *   names this checkout's commit and whether the tree was dirty.
 * - `--help` and `start --help` list every setting of `deno task start`, and
 *   a bad one exits 2 naming it.
 * - `drover start` runs the embedded fleet to a heartbeating machine, read
 *   through the admin API with the printed login token; it serves the
 *   payload's prebuilt dashboard; nothing was downloaded (no npm package, no
 *   esbuild in its Deno cache); SIGTERM stops it cleanly.
 *
 * @module
 */
import assert from "node:assert/strict";
import { SETTINGS } from "../../server/config.ts";
import { buildExecutable } from "../../release/build.ts";
import { DROVER_VERSION } from "../../release/version.ts";
import { freePort } from "../harness/free_port.ts";
import { waitFor, within } from "../harness/wait.ts";
import { spawnWatched } from "../harness/watched_process.ts";

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const decoder = new TextDecoder();

async function git(args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: REPO, stdout: "piped", stderr: "null" }).output();
  assert.ok(out.success, `git ${args.join(" ")} failed`);
  return decoder.decode(out.stdout).trim();
}

/** The cache directory name the header unpacks into (its `build_id='…'` line). */
async function buildIdOf(binary: string): Promise<string> {
  const file = await Deno.open(binary);
  try {
    const head = new Uint8Array(4096);
    const read = (await file.read(head)) ?? 0;
    const id = /^build_id='([^']+)'$/m.exec(decoder.decode(head.subarray(0, read)))?.[1];
    assert.ok(id, `${binary} has no build_id line in its header`);
    return id;
  } finally {
    file.close();
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** Every file below `dir` (none when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      files.push(...(entry.isDirectory ? await filesUnder(path) : [path]));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return files;
}

Deno.test({
  name: "the executable: unpacks once under concurrent first runs, --version and --help, drover start offline " +
    "from an empty directory to a heartbeating machine",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "drover-binary-" });
    try {
      const commit = await git(["rev-parse", "HEAD"]);
      const dirty = (await git(["status", "--porcelain"])) !== "";
      let binary = Deno.env.get("DROVER_TEST_BINARY");
      if (binary === undefined) {
        const started = performance.now();
        const built = await buildExecutable({ output: `${tmp}/out/drover` });
        binary = built.path;
        console.log(
          `built ${(built.bytes / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s ` +
            `(${Object.entries(built.stepsMs).map(([step, ms]) => `${step} ${ms} ms`).join(", ")})`,
        );
      }
      const id = await buildIdOf(binary);
      assert.match(id, new RegExp(`^${DROVER_VERSION.replaceAll(".", "\\.")}-[0-9a-f]{16}$`));

      const work = `${tmp}/work`;
      const cache = `${tmp}/cache`;
      const denoDir = `${tmp}/deno-dir`;
      for (const dir of [work, `${tmp}/home`, denoDir]) await Deno.mkdir(dir);
      const dead = `http://127.0.0.1:${freePort()}/`;
      // The child's whole environment: PATH for the header's tar, tail and mv, and nothing of this checkout.
      const env: Record<string, string> = {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: `${tmp}/home`,
        DROVER_CACHE_DIR: cache,
        DENO_DIR: denoDir,
        NPM_CONFIG_REGISTRY: dead,
        HTTPS_PROXY: dead,
        HTTP_PROXY: dead,
        NO_PROXY: "127.0.0.1,localhost",
      };
      const drover = async (args: string[]) => {
        const out = await new Deno.Command(binary, {
          args,
          cwd: work,
          env,
          clearEnv: true,
          stdout: "piped",
          stderr: "piped",
        })
          .output();
        return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
      };

      // Two first runs at once: each unpacks into a temporary sibling and renames it; one rename wins.
      const firstRunStarted = performance.now();
      const versions = await Promise.all([drover(["--version"]), drover(["--version"])]);
      console.log(`two first runs (unpacking) at once: ${((performance.now() - firstRunStarted) / 1000).toFixed(1)} s`);
      for (const run of versions) {
        assert.equal(run.code, 0, run.stderr);
        assert.match(
          run.stdout,
          new RegExp(`^drover ${DROVER_VERSION} \\(commit ${commit.slice(0, 12)}${dirty ? ", dirty" : ""}\\) built `),
        );
      }
      assert.deepEqual(await listDir(cache), [id], "one build directory and no half-unpacked one");
      const unpacked = `${cache}/${id}`;
      assert.deepEqual(
        await listDir(unpacked),
        ["agent", "bin", "build.json", "deno-dir", "migrations", "proto", "server", "ui"],
        "the payload as release/layout.ts lays it out, no copy renamed into it, and the executable's Deno cache",
      );
      const laterRunStarted = performance.now();
      const later = await drover(["--version"]);
      console.log(`a later run (no unpacking): ${((performance.now() - laterRunStarted) / 1000).toFixed(1)} s`);
      assert.equal(later.stdout, versions[0].stdout);

      const help = await drover(["--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /drover start \[flags\]/);
      const startHelp = await drover(["start", "--help"]);
      assert.equal(startHelp.code, 0, startHelp.stderr);
      for (const setting of SETTINGS) {
        for (const text of [help.stdout, startHelp.stdout]) {
          assert.match(text, new RegExp(`--${setting.flag}\\s+${setting.env}\\s`), `--${setting.flag} in the help`);
        }
      }
      const bad = await drover(["start", "--listen", "nowhere"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /DROVER_LISTEN \(--listen\) must be host:port/);
      assert.deepEqual(await listDir(work), [], "a bad setting touches no data");
      assert.equal((await drover(["launch"])).code, 2, "an unknown command exits 2");

      // drover start, embedded, in the empty directory: the plumbing, not the demo's misbehaving fleet.
      const port = freePort();
      const spawnedAt = performance.now();
      const process = spawnWatched({
        command: binary,
        args: ["start", "--demo", "false"],
        cwd: work,
        env: { ...env, DROVER_DATA_DIR: `${work}/data`, DROVER_LISTEN: `127.0.0.1:${port}` },
        readyWhen: (stdout) => /Drover is running.*?\. Dashboard: (\S+)/.exec(stdout)?.[1],
        what: "drover start",
      });
      let status: Deno.CommandStatus;
      try {
        const login = new URL(await within(process.ready, 60_000, "drover start's login line"));
        const loginSeconds = (performance.now() - spawnedAt) / 1000;
        const auth = { authorization: `Bearer ${login.searchParams.get("token")}` };
        const base = `http://127.0.0.1:${port}`;
        const heartbeating = await waitFor(async () => {
          const response = await fetch(`${base}/api/v1/machines?limit=50`, { headers: auth });
          assert.equal(response.status, 200, "the printed token is the admin token");
          const { rows } = await response.json() as { rows: { agentHeartbeatAt: string | null }[] };
          return rows.filter((m) => m.agentHeartbeatAt !== null).length || false;
        }, { timeoutMs: 60_000, intervalMs: 200, what: "a heartbeating machine" });
        console.log(
          `drover start: login line after ${loginSeconds.toFixed(1)} s, ${heartbeating} machine(s) heartbeating ` +
            `after ${((performance.now() - spawnedAt) / 1000).toFixed(1)} s`,
        );

        // The dashboard served is the payload's prebuilt one, byte for byte.
        const page = await (await fetch(`${base}/`, { headers: auth })).text();
        const script = /<script type="module" src="\/assets\/([^"]+)"/.exec(page)?.[1];
        assert.ok(script, `the index page names its script: ${page.slice(0, 400)}`);
        const served = new Uint8Array(await (await fetch(`${base}/assets/${script}`)).arrayBuffer());
        assert.deepEqual(served, await Deno.readFile(`${unpacked}/ui/assets/${script}`));

        assert.ok((await listDir(`${work}/data`)).includes("pglite"), "PGlite in DROVER_DATA_DIR");
        // Nothing fetched: the executable's Deno cache holds no npm package and no esbuild (bundling's download).
        const fetched = [
          ...await filesUnder(`${unpacked}/deno-dir/npm`),
          ...await filesUnder(`${unpacked}/deno-dir/dl`),
          ...await filesUnder(`${unpacked}/deno-dir/remote`),
        ];
        assert.deepEqual(fetched, [], "files fetched into the executable's Deno cache");
        assert.deepEqual(await listDir(denoDir), [], "the caller's DENO_DIR is left alone");
      } catch (error) {
        throw new Error(`${error}\ndrover start's log ends:\n${process.log().slice(-4000)}`, { cause: error });
      } finally {
        status = await process.stop();
      }
      assert.equal(status.code, 0, `exit after SIGTERM; its log ends:\n${process.log().slice(-4000)}`);
      assert.match(process.log(), /INFO {2}stopped/);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  },
});
