/**
 * deno.json's `start` task as arguments to `deno`, so a test or the bench
 * can spawn Drover directly (a signal then reaches Drover itself, not a
 * `deno task` around it, and /proc shows Drover's own CPU and memory) with
 * exactly the task's flags.
 *
 * @module
 */

const REPO = decodeURIComponent(new URL("../../", import.meta.url).pathname);

/**
 * The `deno` arguments of the start task in `dir`'s deno.json before its
 * entry point, e.g. `run --allow-net ... --v8-flags=...`.
 * @throws {Error} the task is not `deno ... main.ts`.
 */
export function startTaskDenoArgs(dir: string = REPO): string[] {
  const config = JSON.parse(Deno.readTextFileSync(`${dir}/deno.json`)) as { tasks?: Record<string, string> };
  const words = (config.tasks?.start ?? "").trim().split(/\s+/);
  if (words[0] !== "deno" || words.at(-1) !== "main.ts") {
    throw new Error(`${dir}/deno.json's start task is not "deno ... main.ts": ${JSON.stringify(config.tasks?.start)}`);
  }
  return words.slice(1, -1);
}

/** The start task's `deno` arguments with its entry point, `main.ts`: run them with `dir` as the working directory. */
export function startTaskArgs(dir: string = REPO): string[] {
  return [...startTaskDenoArgs(dir), "main.ts"];
}
