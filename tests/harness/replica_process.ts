/**
 * A Drover replica as a child process: `deno task start`'s command run
 * directly (so a signal reaches the replica itself, not a `deno task` around
 * it), its stderr kept as its log, its exit watched.
 *
 * ```ts
 * const replica = spawnReplica({ ...env }, { dataDir: `${dir}/replica-0` });
 * // ... replica.url, replica.log(), replica.exited
 * await replica.stop(); // SIGTERM, then the exit status
 * ```
 *
 * @module
 */
import { freePort } from "./free_port.ts";
import { startTaskArgs } from "./start_task.ts";

const REPO = new URL("../../", import.meta.url).pathname;

/** `deno task start`'s command, run directly, so signals reach Drover itself. */
const START_ARGS = startTaskArgs();

export interface ReplicaProcess {
  readonly pid: number;
  readonly child: Deno.ChildProcess;
  /** Its HTTP server, `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its stderr so far. */
  log(): string;
  /** The exit status, once it exited (undefined while it runs). */
  exited(): Deno.CommandStatus | undefined;
  /** Sends `signal` (default SIGTERM) unless it exited, and resolves with the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts a replica with `env` (its whole environment, beside the data dir
 * and listen address set here) in the repository's directory.
 */
export function spawnReplica(env: Record<string, string>, options: { dataDir: string }): ReplicaProcess {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: START_ARGS,
    cwd: REPO,
    env: { ...env, DROVER_DATA_DIR: options.dataDir, DROVER_LISTEN: `127.0.0.1:${port}` },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const logged = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })().catch(() => {});
  let status: Deno.CommandStatus | undefined;
  const done = child.status.then(async (s) => {
    status = s;
    await logged;
    return s;
  });
  return {
    pid: child.pid,
    child,
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    exited: () => status,
    stop(signal = "SIGTERM") {
      if (status === undefined) {
        try {
          child.kill(signal);
        } catch {
          // it exited meanwhile
        }
      }
      return done;
    },
  };
}
