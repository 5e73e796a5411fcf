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
import { settingsIn } from "./printed_settings.ts";
import { within } from "./wait.ts";
import { spawnWatched } from "./watched_process.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const SETTINGS = ["EQUINIX_API_URL", "EQUINIX_API_TOKEN", "EQUINIX_PROJECT_ID"];

export interface SimProcess extends AsyncDisposable {
  /** EQUINIX_API_URL, EQUINIX_API_TOKEN and EQUINIX_PROJECT_ID, as printed. */
  settings: Record<string, string>;
  /** SIGTERM (SIGKILL after 15 s), then waits for the exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the simulator on a free loopback port with `flags` (e.g. `--reservations 50 --error-rate 0.1`).
 * @throws when it does not print its settings within 20 s (the message ends with its log).
 */
export async function startSimProcess(flags: string[]): Promise<SimProcess> {
  const sim = spawnWatched({
    args: ["task", "--quiet", "sim", "--listen", `127.0.0.1:${freePort()}`, ...flags],
    cwd: REPO,
    env: Deno.env.toObject(),
    readyWhen: (stdout) => settingsIn(stdout, SETTINGS),
    what: "the simulator",
  });
  const stop = async () => {
    await sim.stop();
  };
  try {
    const settings = await within(sim.ready, 20_000, "the simulator's settings");
    return { settings, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
