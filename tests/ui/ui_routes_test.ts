/**
 * The dashboard's build and its routes, without a browser: hashed asset
 * names referenced by the index page, the page's headers (no-cache, a strict
 * Content-Security-Policy), immutable assets, 404 for unknown ones, and which
 * paths get the page (client-side routes) and which fall through.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { isDashboardPath, uiRoutes } from "../../server/ui_routes.ts";
import { readUiAssets, writeUiAssets } from "../../ui/mod.ts";
import { builtUi } from "./ui_assets.ts";

Deno.test("buildUi() names files by content hash and the index page references them, no inline script", async () => {
  const assets = await builtUi();
  const names = [...assets.files.keys()].sort();
  const js = names.find((n) => /^app-[0-9a-f]{8}\.js$/.test(n));
  const css = names.find((n) => /^app-[0-9a-f]{8}\.css$/.test(n));
  assert.ok(js, `a hashed bundle among ${names}`);
  assert.ok(css, `a hashed stylesheet among ${names}`);
  assert.ok(names.includes(`${js}.map`), "its source map");
  assert.match(assets.indexHtml, new RegExp(`<script type="module" src="/assets/${js}"></script>`));
  assert.match(assets.indexHtml, new RegExp(`<link rel="stylesheet" href="/assets/${css}">`));
  assert.doesNotMatch(assets.indexHtml, /<script>|<style|\sstyle=|\son\w+=/, "nothing inline");
  const code = new TextDecoder().decode(assets.files.get(js)!.body);
  assert.match(code, new RegExp(`//# sourceMappingURL=${js}\\.map\\n$`));
  const map = JSON.parse(new TextDecoder().decode(assets.files.get(`${js}.map`)!.body));
  assert.ok(map.sources.includes("ui/main.tsx"), "sources named from the repository");
  assert.ok(!map.sources.some((s: string) => s.startsWith("/")), "no absolute paths in the map");

  // Written and read back: the same files.
  const dir = await Deno.makeTempDir({ prefix: "drover-ui-test-" });
  try {
    await writeUiAssets(assets, dir);
    const read = await readUiAssets(dir);
    assert.equal(read.indexHtml, assets.indexHtml);
    assert.deepEqual([...read.files.keys()].sort(), names);
    assert.equal(read.files.get(js)!.contentType, "text/javascript; charset=utf-8");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the dashboard's own code never writes HTML (user-supplied values are rendered as text)", async () => {
  const ui = new URL("../../ui/", import.meta.url);
  const files: string[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory) await walk(new URL(`${entry.name}/`, dir));
      else if (/\.tsx?$/.test(entry.name)) files.push(new URL(entry.name, dir).href);
    }
  };
  await walk(ui);
  assert.ok(files.length > 10);
  for (const file of files) {
    const source = await Deno.readTextFile(new URL(file));
    assert.doesNotMatch(source, /dangerouslySetInnerHTML|innerHTML|outerHTML|insertAdjacentHTML|document\.write/, file);
  }
});

Deno.test("uiRoutes() serves the page at dashboard paths and hashed assets with long-lived caching", async () => {
  const assets = await builtUi();
  const app = new Hono();
  app.route("/", uiRoutes(assets));
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.notFound((c) => c.json({ error: "not found" }, 404));

  for (
    const path of ["/", "/work", "/machines?q=10.0.0.5&hasWork=true", "/machines/0b6f6b1e-0000-4000-8000-000000000001"]
  ) {
    const page = await app.request(path);
    assert.equal(page.status, 200, path);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(page.headers.get("cache-control"), "no-cache");
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(await page.text(), assets.indexHtml);
  }

  for (const [name, file] of assets.files) {
    const asset = await app.request(`/assets/${name}`);
    assert.equal(asset.status, 200, name);
    assert.equal(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(asset.headers.get("content-type"), file.contentType);
    assert.deepEqual(new Uint8Array(await asset.arrayBuffer()), file.body);
  }
  const missing = await app.request("/assets/app-00000000.js");
  assert.equal(missing.status, 404);
  assert.notEqual(missing.headers.get("cache-control"), "public, max-age=31536000, immutable");
  await missing.body?.cancel();

  // Not the dashboard's: these fall through to the app.
  assert.deepEqual(await (await app.request("/healthz")).json(), { status: "ok" });
  for (const path of ["/api/v1/nothing", "/favicon.ico", "/robots.txt", "/metrics", "/agent/v1/x"]) {
    const answer = await app.request(path);
    assert.equal(answer.status, 404, path);
    await answer.body?.cancel();
  }
});

Deno.test("isDashboardPath() takes the dashboard's routes and leaves the server's and files alone", () => {
  const cases: [string, boolean][] = [
    ["/", true],
    ["/sessions", true],
    ["/machines", true],
    ["/machines/abc", true],
    ["/no/such/view", true],
    ["/api/v1/work", false],
    ["/api", false],
    ["/agent/v1/heartbeat", false],
    ["/assets/app.js", false],
    ["/login", false],
    ["/metrics", false],
    ["/healthz", false],
    ["/favicon.ico", false],
  ];
  for (const [path, expected] of cases) assert.equal(isDashboardPath(path), expected, path);
});
