/**
 * Starts bench/admin_server_main.ts (the admin API, event stream and
 * dashboard over a database) as a child process with the start task's
 * `deno` flags, and stops it.
 *
 * @module
 */
import { within } from "../tests/harness/wait.ts";
import { childEnvironment, startTaskDenoArgs } from "./drover_process.ts";

const ENTRY = decodeURIComponent(new URL("./admin_server_main.ts", import.meta.url).pathname);
const REPO = decodeURIComponent(new URL("../", import.meta.url).pathname);
const STOP_LIMIT_MS = 15_000;

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
  const child = new Deno.Command(Deno.execPath(), {
    args: [...startTaskDenoArgs(), ENTRY],
    cwd: REPO,
    env: childEnvironment({ BENCH_DATABASE_URL: databaseUrl, BENCH_ADMIN_TOKEN: adminToken }),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const logged = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })().catch(() => {});
  const ready = Promise.withResolvers<string>();
  ready.promise.catch(() => {});
  // Read to the end, so the child never writes into a closed pipe.
  const printed = (async () => {
    let out = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line) ready.resolve((JSON.parse(line) as { url: string }).url);
    }
    await logged;
    ready.reject(new Error(`the admin server exited before serving; stderr:\n${stderr.slice(-4000)}`));
  })().catch(() => {});
  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      await within(child.status, STOP_LIMIT_MS, "the admin server exiting").catch(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone meanwhile
        }
      });
      await child.status;
      await Promise.all([logged, printed]);
    })();
  try {
    const url = await within(ready.promise, 60_000, "the admin server serving");
    return { pid: child.pid, url, adminToken, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
