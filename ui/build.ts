/**
 * Builds the dashboard: bundles ui/main.tsx for the browser with
 * `deno bundle` (minified, with a source map), and names every file after a
 * hash of its content (`app-<hash8>.js`, `app-<hash8>.css`, …) so the server
 * can let browsers cache them for a year; the index HTML references them.
 *
 * ```ts
 * const assets = await buildUi();
 * app.route("/", uiRoutes(assets)); // server/ui_routes.ts
 * ```
 *
 * As a program (`deno task build:ui`) it writes `build/ui/index.html` and
 * `build/ui/assets/*` and prints what it wrote; {@linkcode readUiAssets}
 * reads such a directory back.
 *
 * @module
 */

/** One built file, served under `/assets/<name>`. */
export interface UiAsset {
  body: Uint8Array;
  contentType: string;
}

/** The built dashboard: its index page and its assets by file name. */
export interface UiAssets {
  indexHtml: string;
  files: Map<string, UiAsset>;
}

export interface BuildUiOptions {
  /** The Deno binary to bundle with. @default Deno.execPath() */
  deno?: string;
  /** Emit a linked source map (`app-<hash>.js.map`). @default true */
  sourceMap?: boolean;
}

/** Where the served assets live: the index references `${ASSET_PREFIX}<name>`. */
export const ASSET_PREFIX = "/assets/";

const UI_DIR = new URL(".", import.meta.url);
const ROOT = new URL("..", UI_DIR);

function pathOf(url: URL): string {
  return decodeURIComponent(url.pathname);
}

async function hash8(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join("");
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Bundles the dashboard and returns its files in memory.
 * @throws when `deno bundle` fails (the message holds its output).
 */
export async function buildUi(options: BuildUiOptions = {}): Promise<UiAssets> {
  const sourceMap = options.sourceMap ?? true;
  const dir = await Deno.makeTempDir({ prefix: "drover-ui-" });
  try {
    const out = `${dir}/app.js`;
    const result = await new Deno.Command(options.deno ?? Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--config",
        pathOf(new URL("deno.json", ROOT)),
        "--platform",
        "browser",
        "--minify",
        ...(sourceMap ? ["--sourcemap=linked"] : []),
        "-o",
        out,
        pathOf(new URL("main.tsx", UI_DIR)),
      ],
      cwd: pathOf(ROOT),
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      throw new Error(
        `deno bundle failed (exit ${result.code}):\n${decoder.decode(result.stderr)}${decoder.decode(result.stdout)}`,
      );
    }
    const files = new Map<string, UiAsset>();

    // The bundle: hash its code (without the map comment, which names the hashed map).
    const js = (await Deno.readTextFile(out)).replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "\n");
    const jsName = `app-${await hash8(encoder.encode(js))}.js`;
    if (sourceMap) {
      const map = JSON.parse(await Deno.readTextFile(`${out}.map`)) as { file?: string; sources?: string[] };
      map.file = jsName;
      // Sources are relative to the temp dir: name them from the repository instead (no absolute paths).
      const root = pathOf(ROOT);
      map.sources = map.sources?.map((source) => {
        const path = pathOf(new URL(source, `file://${dir}/`));
        return path.startsWith(root) ? path.slice(root.length) : source.replace(/^(\.\.\/)+/, "");
      });
      files.set(`${jsName}.map`, {
        body: encoder.encode(JSON.stringify(map)),
        contentType: "application/json; charset=utf-8",
      });
      files.set(jsName, {
        body: encoder.encode(`${js}//# sourceMappingURL=${jsName}.map\n`),
        contentType: "text/javascript; charset=utf-8",
      });
    } else {
      files.set(jsName, { body: encoder.encode(js), contentType: "text/javascript; charset=utf-8" });
    }

    const css = await Deno.readFile(new URL("styles.css", UI_DIR));
    const cssName = `app-${await hash8(css)}.css`;
    files.set(cssName, { body: css, contentType: "text/css; charset=utf-8" });

    const icon = await Deno.readFile(new URL("favicon.svg", UI_DIR));
    const iconName = `favicon-${await hash8(icon)}.svg`;
    files.set(iconName, { body: icon, contentType: "image/svg+xml" });

    return { indexHtml: indexHtml({ js: jsName, css: cssName, icon: iconName }), files };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The page: no inline script or style, so a strict Content-Security-Policy holds. */
function indexHtml(names: { js: string; css: string; icon: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drover</title>
<link rel="icon" type="image/svg+xml" href="${ASSET_PREFIX}${names.icon}">
<link rel="stylesheet" href="${ASSET_PREFIX}${names.css}">
<script type="module" src="${ASSET_PREFIX}${names.js}"></script>
</head>
<body>
<div id="app"><p class="empty">Loading the dashboard…</p><noscript>The Drover dashboard needs JavaScript.</noscript></div>
</body>
</html>
`;
}

const CONTENT_TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  map: "application/json; charset=utf-8",
  svg: "image/svg+xml",
};

/** Writes `assets` as `<dir>/index.html` and `<dir>/assets/<name>` (replacing what was there); returns the paths. */
export async function writeUiAssets(assets: UiAssets, dir: string): Promise<string[]> {
  await Deno.remove(dir, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.mkdir(`${dir}/assets`, { recursive: true });
  const written = [`${dir}/index.html`];
  await Deno.writeTextFile(written[0], assets.indexHtml);
  for (const [name, file] of assets.files) {
    const path = `${dir}/assets/${name}`;
    await Deno.writeFile(path, file.body);
    written.push(path);
  }
  return written;
}

/** Reads what {@linkcode writeUiAssets} wrote (e.g. `build/ui`). */
export async function readUiAssets(dir: string): Promise<UiAssets> {
  const indexHtml = await Deno.readTextFile(`${dir}/index.html`);
  const files = new Map<string, UiAsset>();
  for await (const entry of Deno.readDir(`${dir}/assets`)) {
    if (!entry.isFile) continue;
    const extension = entry.name.slice(entry.name.lastIndexOf(".") + 1);
    files.set(entry.name, {
      body: await Deno.readFile(`${dir}/assets/${entry.name}`),
      contentType: CONTENT_TYPES[extension] ?? "application/octet-stream",
    });
  }
  return { indexHtml, files };
}

if (import.meta.main) {
  const started = performance.now();
  const assets = await buildUi();
  const dir = pathOf(new URL("build/ui", ROOT));
  const written = await writeUiAssets(assets, dir);
  for (const path of written) {
    const { size } = await Deno.stat(path);
    console.log(`${path.slice(pathOf(ROOT).length)}  ${(size / 1024).toFixed(1)} KiB`);
  }
  console.log(`built the dashboard in ${Math.round(performance.now() - started)} ms`);
}
