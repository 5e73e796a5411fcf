/**
 * The one executable's payload as it is unpacked: release/build.ts writes it,
 * the launcher (release/launcher.sh) unpacks it into the per-build cache
 * directory, and release/drover_cli.ts finds each part from the bundle's own
 * place.
 *
 * It mirrors the repository where code finds files relative to itself: the
 * bundle is `server/drover.js`, so bmdb/migrate.ts's `../migrations/` and
 * etcd3's `${__dirname}/../proto/rpc.proto` resolve inside the payload, and
 * PGlite's wasm and data files sit beside the bundle, where its
 * `new URL("./pglite.wasm", import.meta.url)` looks.
 *
 * @module
 */

/** Paths inside the unpacked payload. */
export const LAYOUT = {
  /** The Deno binary the executable was built with. */
  deno: "bin/deno",
  /** The server, bundled (`deno bundle --platform deno`) from release/drover_cli.ts. */
  bundle: "server/drover.js",
  /** PGlite's files, beside the bundle (in server/). */
  pgliteFiles: ["pglite.data", "pglite.wasm", "initdb.wasm"],
  /** etcd3's protocol files, read at start from the bundle's folder's sibling. */
  etcdProtos: "proto",
  migrations: "migrations",
  /** The prebuilt dashboard (ui/build.ts's writeUiAssets). */
  ui: "ui",
  /** The agent bundle uploaded to machines (`deno task build:agent`). */
  agent: "agent/drover-agent.js",
  /** {@linkcode BuildInfo} as JSON. */
  buildInfo: "build.json",
} as const;

/** What an executable was built from, for `drover --version`. */
export interface BuildInfo {
  version: string;
  /** The full git commit, or "unknown" outside a git checkout. */
  commit: string;
  /** The working tree had changes (tracked or untracked) that the commit does not hold. */
  dirty: boolean;
  /** ISO 8601. */
  builtAt: string;
  /** The bundled Deno's version. */
  deno: string;
}
