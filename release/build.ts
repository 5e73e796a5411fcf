/**
 * `deno task compile`: writes `build/drover`, Drover as one executable for
 * Linux x86_64 (`deno compile` needs denort from dl.deno.land, which is not
 * reachable here: STACK-NOTES.md item 10).
 *
 * The executable is a POSIX sh header (release/launcher.sh) followed by a
 * tar.gz payload laid out as release/layout.ts says: the Deno binary this
 * build runs on, the server bundled from release/drover_cli.ts, PGlite's
 * wasm and data, etcd3's protocol files, the migrations, the prebuilt
 * dashboard and the agent bundle. Its first run unpacks the payload into a
 * cache directory named after the version and the payload's hash; later
 * runs go straight to `deno run`.
 *
 * ```sh
 * deno task compile                  # build/drover
 * deno task compile --output /tmp/d  # elsewhere
 * ```
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { buildUi, writeUiAssets } from "../ui/mod.ts";
import { bundleServer } from "./bundle_server.ts";
import { type BuildInfo, LAYOUT } from "./layout.ts";
import { renderLauncher } from "./launcher.ts";
import { DROVER_VERSION } from "./version.ts";

const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname).replace(/\/$/, "");
const ENTRY = `${REPO}/release/drover_cli.ts`;
const PGLITE_DIST = `${REPO}/node_modules/@electric-sql/pglite/dist`;
const ETCD3_PROTOS = `${REPO}/node_modules/etcd3/proto`;

export interface BuildOptions {
  /** Where the executable goes (replaced in one rename). @default build/drover in the repository */
  output?: string;
  /** Progress lines. @default nothing */
  progress?: (line: string) => void;
}

export interface BuildResult {
  path: string;
  bytes: number;
  /** The cache directory's name: the version and the payload's hash. */
  id: string;
  info: BuildInfo;
  /** Milliseconds per step, in order. */
  stepsMs: Record<string, number>;
}

const decoder = new TextDecoder();

async function run(command: string, args: string[], what: string): Promise<string> {
  const result = await new Deno.Command(command, { args, cwd: REPO, stdout: "piped", stderr: "piped" }).output();
  if (!result.success) {
    throw new Error(`${what} failed (exit ${result.code}): ${decoder.decode(result.stderr).trim()}`);
  }
  return decoder.decode(result.stdout);
}

/** The commit checked out, and whether the tree differs from it (untracked files count; ignored ones do not). */
async function gitState(): Promise<{ commit: string; dirty: boolean }> {
  try {
    const commit = (await run("git", ["rev-parse", "HEAD"], "git rev-parse")).trim();
    const dirty = (await run("git", ["status", "--porcelain"], "git status")).trim() !== "";
    return { commit, dirty };
  } catch {
    return { commit: "unknown", dirty: false };
  }
}

/** `deno run`'s flags in deno.json's start task (permissions, V8 flags), so the executable runs as it does. */
export function startTaskFlags(denoJson: string): string[] {
  const task = (JSON.parse(denoJson) as { tasks?: Record<string, string> }).tasks?.start ?? "";
  const words = task.trim().split(/\s+/);
  const flags = words.slice(2, -1);
  if (
    words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts" || flags.some((f) => !f.startsWith("-"))
  ) {
    throw new Error(`deno.json's start task is not "deno run <flags> main.ts": ${JSON.stringify(task)}`);
  }
  return flags;
}

async function copyInto(dir: string, files: string[]): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const file of files) await Deno.copyFile(file, `${dir}/${file.slice(file.lastIndexOf("/") + 1)}`);
}

async function filesIn(dir: string, suffix: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(suffix)) files.push(`${dir}/${entry.name}`);
  }
  if (files.length === 0) throw new Error(`no *${suffix} files in ${dir}`);
  return files.sort();
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Builds the executable (see the module doc). */
export async function buildExecutable(options: BuildOptions = {}): Promise<BuildResult> {
  const output = resolve(options.output ?? `${REPO}/build/drover`);
  const progress = options.progress ?? (() => {});
  const stepsMs: Record<string, number> = {};
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await work();
    stepsMs[name] = Math.round(performance.now() - started);
    progress(`${name}: ${stepsMs[name]} ms`);
    return result;
  };

  const git = await gitState(); // before bundling: the commit the sources come from
  const root = await Deno.makeTempDir({ prefix: "drover-payload-" });
  try {
    const denoFlags = startTaskFlags(await Deno.readTextFile(`${REPO}/deno.json`));
    await step("server bundle", () => bundleServer({ repo: REPO, entry: ENTRY, root }));
    await step("dashboard", async () => {
      await writeUiAssets(await buildUi(), `${root}/${LAYOUT.ui}`);
    });
    await step("agent bundle", async () => {
      await Deno.mkdir(`${root}/agent`, { recursive: true });
      await run(
        Deno.execPath(),
        ["bundle", "--quiet", "--platform", "deno", "-o", `${root}/${LAYOUT.agent}`, `${REPO}/agent/main.ts`],
        "deno bundle of the agent",
      );
    });
    await step("files", async () => {
      await copyInto(`${root}/${dirname(LAYOUT.bundle)}`, LAYOUT.pgliteFiles.map((name) => `${PGLITE_DIST}/${name}`));
      await copyInto(`${root}/${LAYOUT.etcdProtos}`, await filesIn(ETCD3_PROTOS, ".proto"));
      await copyInto(`${root}/${LAYOUT.migrations}`, await filesIn(`${REPO}/migrations`, ".sql"));
      await Deno.mkdir(`${root}/bin`, { recursive: true });
      await Deno.copyFile(Deno.execPath(), `${root}/${LAYOUT.deno}`);
      await Deno.chmod(`${root}/${LAYOUT.deno}`, 0o755);
    });
    const info: BuildInfo = {
      version: DROVER_VERSION,
      ...git,
      builtAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      deno: Deno.version.deno,
    };
    await Deno.writeTextFile(`${root}/${LAYOUT.buildInfo}`, `${JSON.stringify(info, null, 2)}\n`);

    const payload = await step("payload (tar.gz)", async () => {
      const tarball = `${root}.tar.gz`;
      try {
        await run(
          "tar",
          ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", root, "-czf", tarball, "."],
          "tar",
        );
        return await Deno.readFile(tarball);
      } finally {
        await Deno.remove(tarball).catch(() => {});
      }
    });
    const id = `${DROVER_VERSION}-${(await sha256Hex(payload)).slice(0, 16)}`;
    const commit = info.commit === "unknown" ? "commit unknown" : `commit ${info.commit.slice(0, 12)}`;
    const header = await renderLauncher({
      title: `Drover ${info.version} (${commit}${info.dirty ? ", dirty" : ""}), built ${info.builtAt}`,
      buildId: id,
      denoFlags,
    });

    // Written beside, then renamed: whoever runs the previous build/drover never reads half a file.
    await Deno.mkdir(dirname(output), { recursive: true });
    const partial = `${output}.partial-${Deno.pid}`;
    try {
      const file = await Deno.open(partial, { write: true, create: true, truncate: true, mode: 0o755 });
      try {
        for (const bytes of [header, payload]) {
          for (let written = 0; written < bytes.length;) written += await file.write(bytes.subarray(written));
        }
      } finally {
        file.close();
      }
      await Deno.chmod(partial, 0o755);
      await Deno.rename(partial, output);
    } catch (error) {
      await Deno.remove(partial).catch(() => {});
      throw error;
    }
    return { path: output, bytes: header.length + payload.length, id, info, stepsMs };
  } finally {
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { output: { type: "string" }, help: { type: "boolean" } } });
  if (values.help) {
    console.log("Usage: deno task compile [--output PATH]   (default build/drover)");
    Deno.exit(0);
  }
  const started = performance.now();
  const result = await buildExecutable({ output: values.output, progress: (line) => console.error(line) });
  const shown = result.path.startsWith(`${REPO}/`) ? result.path.slice(REPO.length + 1) : result.path;
  console.log(
    `${shown}: ${(result.bytes / 2 ** 20).toFixed(1)} MiB, unpacks into <cache>/drover/${result.id} ` +
      `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
}
