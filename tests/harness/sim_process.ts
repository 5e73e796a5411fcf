/**
 * `deno task sim` as a child process, for tests of Drover as separate
 * processes: resolves with the three settings it prints.
 *
 * ```ts
 * await using sim = await startSimProcess(["--reservations", "6"]);
 * env = { ...sim.settings, ... };
 * ```
 *
 * @module
 */
import { freePort } from "./free_port.ts";
import { printedSettings } from "./printed_settings.ts";
import { within } from "./wait.ts";

const REPO = new URL("../../", import.meta.url).pathname;

export interface SimProcess extends AsyncDisposable {
  /** EQUINIX_API_URL, EQUINIX_API_TOKEN and EQUINIX_PROJECT_ID, as printed. */
  settings: Record<string, string>;
  /** SIGTERM, then waits for the exit. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the simulator on a free loopback port with `flags` (e.g. `--reservations 50 --error-rate 0.1`). */
export async function startSimProcess(flags: string[]): Promise<SimProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "sim", "--listen", `127.0.0.1:${freePort()}`, ...flags],
    cwd: REPO,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await child.status;
    })();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const settings = await within(
      printedSettings(reader, ["EQUINIX_API_URL", "EQUINIX_API_TOKEN", "EQUINIX_PROJECT_ID"]),
      20_000,
      "the simulator's settings",
    );
    reader.releaseLock();
    child.stdout.cancel().catch(() => {});
    return { settings, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
