/**
 * Starts bench/admin_server_main.ts (the admin API, event stream and
 * dashboard over a database) as a child process with the start task's
 * `deno` flags, and stops it.
 *
 * @module
 */
import { within } from "../tests/harness/wait.ts";
import { childEnvironment, startTaskDenoArgs } from "./drover_process.ts";
import { spawnWatched } from "../tests/harness/watched_process.ts";

const ENTRY = decodeURIComponent(new URL("./admin_server_main.ts", import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** The running server process. */
export interface AdminServerProcess extends AsyncDisposable {
  readonly pid: number;
  readonly url: string;
  readonly adminToken: string;
  /** SIGTERM, then SIGKILL after 15 s. Idempotent. */
  stop(): Promise<void>;
}

/** Starts the server over `databaseUrl` (migrated) and resolves once it serves. */
export async function startAdminServerProcess(databaseUrl: string): Promise<AdminServerProcess> {
  const adminToken = `bench-admin-${crypto.randomUUID()}`;
  const process = spawnWatched({
    args: [...startTaskDenoArgs(), ENTRY],
    cwd: REPO,
    env: childEnvironment({ BENCH_DATABASE_URL: databaseUrl, BENCH_ADMIN_TOKEN: adminToken }),
    // The server prints one JSON line, `{"url": ...}`, once it serves.
    readyWhen: (stdout) => {
      const line = stdout.split("\n").find((l) => l.startsWith("{"));
      return line && (JSON.parse(line) as { url: string }).url;
    },
    what: "the admin server",
  });
  const stop = async () => {
    await process.stop();
  };
  try {
    const url = await within(process.ready, 60_000, "the admin server serving");
    return { pid: process.child.pid, url, adminToken, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
