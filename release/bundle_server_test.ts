import assert from "node:assert/strict";
import { BundleError, dirnameUsers, prepareBundle } from "./bundle_server.ts";

/** The shape of `deno bundle --platform deno`'s output: a preamble, then each module after a `// path` line. */
function bundleOf(modules: Record<string, string>, imports = 'import { readFile } from "node:fs";'): string {
  return [
    'import { createRequire as __deno_internal_createRequire } from "node:module";',
    "var __require = __deno_internal_createRequire(import.meta.url);",
    imports,
    ...Object.entries(modules).map(([path, code]) => `\n// ${path}\n${code}`),
  ].join("\n");
}

const ETCD = "node_modules/.deno/etcd3@1.1.2/node_modules/etcd3/lib/connection-pool.js";

Deno.test("dirnameUsers() names each bundled module that reads __dirname or __filename, by its path below node_modules", () => {
  const bundle = bundleOf({
    [ETCD]: "var p = loadSync(`${__dirname}/../proto/rpc.proto`);",
    "node_modules/.deno/x@1.0.0/node_modules/x/index.js": "var dirnameLike = 1; // not __dirnameX",
    "bmdb/migrate.ts": 'var MIGRATIONS_DIR = new URL("../migrations/", import.meta.url);',
  });
  assert.deepEqual(dirnameUsers(bundle), ["etcd3/lib/connection-pool.js"]);
});

Deno.test("prepareBundle() defines __dirname as the bundle's folder once every user of it is known", () => {
  const prepared = prepareBundle(bundleOf({ [ETCD]: "loadSync(`${__dirname}/../proto/rpc.proto`);" }));
  assert.match(
    prepared,
    /^var __require = .*\nvar __dirname = import\.meta\.dirname, __filename = import\.meta\.filename;$/m,
  );
});

Deno.test("prepareBundle() refuses an unknown __dirname user and any import that is not a node: built-in", () => {
  const unknown = bundleOf({
    "node_modules/.deno/y@2.0.0/node_modules/y/lib/load.js": "read(__dirname + '/data.bin');",
  });
  assert.throws(
    () => prepareBundle(unknown),
    (e) => e instanceof BundleError && /y\/lib\/load\.js use __dirname/.test(e.message),
  );
  for (
    const imports of ['import pg from "npm:postgres@3.4.9";', 'const m = await import("https://example.com/m.js");']
  ) {
    assert.throws(
      () => prepareBundle(bundleOf({}, imports)),
      (e) =>
        e instanceof BundleError &&
        /imports (npm:postgres@3\.4\.9|https:\/\/example\.com\/m\.js) at run time/.test(e.message),
    );
  }
});
