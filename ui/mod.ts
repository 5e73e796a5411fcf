/**
 * The dashboard, as the server sees it: {@linkcode buildUi} bundles it into
 * {@linkcode UiAssets} (an index page and content-hashed files), which
 * `server/ui_routes.ts` serves. The dashboard itself (main.tsx and the
 * views) runs in the browser and is not imported by anything here.
 *
 * ```ts
 * import { buildUi } from "../ui/mod.ts";
 * const assets = await buildUi(); // or readUiAssets("build/ui") after `deno task build:ui`
 * ```
 *
 * @module
 */
export {
  ASSET_PREFIX,
  buildUi,
  type BuildUiOptions,
  readUiAssets,
  type UiAsset,
  type UiAssets,
  writeUiAssets,
} from "./build.ts";
