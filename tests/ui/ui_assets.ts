/**
 * The dashboard built once per test process (a `deno bundle` run), shared by
 * the UI tests.
 *
 * @module
 */
import { buildUi, type UiAssets } from "../../ui/mod.ts";

let built: Promise<UiAssets> | undefined;

export function builtUi(): Promise<UiAssets> {
  built ??= buildUi();
  return built;
}
