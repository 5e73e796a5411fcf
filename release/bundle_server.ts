/**
 * Bundles the server for the executable: `deno bundle --platform deno` of
 * release/drover_cli.ts into one ES module that imports only `node:`
 * built-ins, so the executable's Deno runs it with no npm download.
 *
 * Two things esbuild (under `deno bundle`) leaves to us:
 *
 * - ssh2 and cpu-features `require()` optional native add-ons inside
 *   try/catch and fall back to JavaScript; the add-ons are not built here
 *   (deno.json denies their install scripts), so `*.node` stays external and
 *   the require fails as it does from source.
 * - CommonJS modules that read `__dirname` (undefined in an ES module):
 *   the bundle defines it as the bundle's own folder. Each module that uses
 *   it is listed in {@linkcode DIRNAME_USERS} with what it reads; a module
 *   not listed fails the build, so a dependency update cannot silently read a
 *   file that is not in the payload.
 *
 * @module
 */
import { LAYOUT } from "./layout.ts";

/** Bundled modules that use `__dirname`/`__filename`, by path below node_modules, and why that is safe. */
export const DIRNAME_USERS: Record<string, string> = {
  // Reads proto/rpc.proto (with kv.proto and auth.proto) at load: the payload has them in LAYOUT.etcdProtos.
  "etcd3/lib/connection-pool.js": "reads ../proto/*.proto: copied into the payload",
  "ssh2/lib/protocol/crypto/poly1305.js": "emscripten's script folder; its wasm is inline",
  "ssh2/lib/agent.js": "pagent.exe, for Windows' Pageant only",
  "@grpc/grpc-js/build/src/channelz.js": "channelz protos, loaded only when channelz is used (never)",
  "@grpc/grpc-js/build/src/orca.js": "ORCA protos, loaded only for xDS load reports (never)",
};

/** Defines what CommonJS modules expect; inserted after the bundle's own `__require` preamble. */
const DIRNAME_SHIM = "var __dirname = import.meta.dirname, __filename = import.meta.filename;";
const REQUIRE_PREAMBLE = /^var __require = __deno_internal_createRequire\(import\.meta\.url\);$/m;

/** A problem with the bundle that the build must not ship. */
export class BundleError extends Error {
  constructor(message: string) {
    super(`Bundling the server for the executable: ${message}`);
    this.name = "BundleError";
  }
}

/** Paths below node_modules (e.g. `etcd3/lib/connection-pool.js`) of the bundled modules whose code uses `__dirname` or `__filename`. */
export function dirnameUsers(bundle: string): string[] {
  const users = new Set<string>();
  // esbuild opens each module's code with a `// <path>` comment line.
  const sections = bundle.split(/^\/\/ (?=\S+\.[cm]?[jt]sx?$)/m);
  if (/\b__(dirname|filename)\b/.test(sections[0])) users.add("(the bundle's preamble)");
  for (const section of sections.slice(1)) {
    const path = section.slice(0, section.indexOf("\n"));
    const body = section.slice(path.length);
    if (!/\b__(dirname|filename)\b/.test(body)) continue;
    const below = path.lastIndexOf("node_modules/");
    users.add(below < 0 ? path : path.slice(below + "node_modules/".length));
  }
  return [...users];
}

/** The module specifiers the bundle imports: `import … from "x"`, `import "x"` and `import("x")`. */
export function bundleImports(bundle: string): string[] {
  const patterns = [
    /^import\s[^"';]*?\sfrom\s*["']([^"']+)["']/gm,
    /^import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...bundle.matchAll(pattern)].map((m) => m[1]));
}

/**
 * Checks a bundle and makes it runnable: only `node:` imports, every
 * `__dirname` user known, the shim inserted. Returns the new text.
 * @throws {BundleError} naming the import or the module that is not allowed.
 */
export function prepareBundle(bundle: string): string {
  const foreign = bundleImports(bundle).filter((specifier) => !specifier.startsWith("node:"));
  if (foreign.length > 0) {
    throw new BundleError(`it imports ${foreign.join(", ")} at run time; only node: built-ins are in the executable`);
  }
  const unknown = dirnameUsers(bundle).filter((path) => !(path in DIRNAME_USERS));
  if (unknown.length > 0) {
    throw new BundleError(
      `${unknown.join(", ")} use __dirname or __filename: check what they read from there, ` +
        "put it in the payload (release/layout.ts) if needed, and list them in DIRNAME_USERS (release/bundle_server.ts)",
    );
  }
  if (!REQUIRE_PREAMBLE.test(bundle)) {
    throw new BundleError("deno bundle's output has no __require preamble any more: where does __dirname go now?");
  }
  return bundle.replace(REQUIRE_PREAMBLE, (line) => `${line}\n${DIRNAME_SHIM}`);
}

/**
 * Bundles `entry` (in the repository `repo`) into `<root>/LAYOUT.bundle`,
 * checked and shimmed ({@linkcode prepareBundle}).
 */
export async function bundleServer(options: { repo: string; entry: string; root: string }): Promise<void> {
  const out = `${options.root}/${LAYOUT.bundle}`;
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--config",
      `${options.repo}/deno.json`,
      "--platform",
      "deno",
      "--external",
      "*.node",
      "-o",
      out,
      options.entry,
    ],
    cwd: options.repo,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    const decoder = new TextDecoder();
    throw new BundleError(
      `deno bundle exited ${result.code}:\n${decoder.decode(result.stderr)}${decoder.decode(result.stdout)}`,
    );
  }
  await Deno.writeTextFile(out, prepareBundle(await Deno.readTextFile(out)));
}
