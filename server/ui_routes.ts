/**
 * Serves the built dashboard (ui/build.ts): the index page at `/` and at
 * every other path the dashboard routes itself (a path without a dot outside
 * the API, so a shared link like `/machines?q=10.0.0.5` loads the app), and
 * the content-hashed assets under `/assets/` with year-long cache headers.
 *
 * The page carries a strict Content-Security-Policy (scripts, styles,
 * images and connections from this origin only; no inline script or style;
 * no framing). Authentication happens before these routes (the server
 * answers a page request without a token with its login page), so none is
 * done here. Paths these routes do not serve fall through (`next()`) to
 * whatever the app mounts after them, or to its not-found handler.
 *
 * @module
 */
import { Hono } from "hono";
import { ASSET_PREFIX, type UiAssets } from "../ui/mod.ts";

/** The index page's Content-Security-Policy. */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** First path segments that belong to the server, never to the dashboard's own routing. */
const SERVER_SEGMENTS = new Set(["api", "agent", "assets", "metrics", "healthz", "readyz", "login", "logout"]);

const IMMUTABLE = "public, max-age=31536000, immutable";

/** Whether `path` is one of the dashboard's own pages (served the index page). */
export function isDashboardPath(path: string): boolean {
  if (path.includes(".")) return false;
  const first = path.split("/").find((segment) => segment !== "");
  return first === undefined || !SERVER_SEGMENTS.has(first);
}

/** The dashboard's routes over `assets`. Mount at the root: `app.route("/", uiRoutes(assets))`. */
export function uiRoutes(assets: UiAssets): Hono {
  const app = new Hono();
  const index = new TextEncoder().encode(assets.indexHtml);
  // Copied once into plain ArrayBuffers (what a Response body takes).
  const files = new Map([...assets.files].map(([name, f]) => [name, { ...f, body: new Uint8Array(f.body) }]));

  app.get(`${ASSET_PREFIX}:name`, (c) => {
    const name = c.req.param("name");
    const file = files.get(name);
    if (!file) {
      return c.json({ error: `no such asset: ${name}` }, 404, { "cache-control": "no-store" });
    }
    return c.body(file.body, 200, {
      "content-type": file.contentType,
      "cache-control": IMMUTABLE,
      "x-content-type-options": "nosniff",
    });
  });

  app.get("*", (c, next) => {
    if (!isDashboardPath(c.req.path)) return next();
    return c.body(index, 200, {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-cache",
      "content-security-policy": UI_CONTENT_SECURITY_POLICY,
      "x-content-type-options": "nosniff",
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    });
  });

  return app;
}
