/**
 * A child process the bench and the tests start and stop: its stderr kept as a log, its
 * stdout read to the end (so it never writes into a closed pipe) while
 * waiting for the line that says it is ready, and a stop that sends SIGTERM,
 * then SIGKILL after `stopLimitMs`.
 *
 * @module
 */
import { within } from "./wait.ts";

export interface WatchedProcessOptions<T> {
  /** The program. @default Deno.execPath() */
  command?: string;
  args: string[];
  cwd: string;
  /** The child's whole environment (it inherits nothing). */
  env: Record<string, string>;
  /** Finds what "ready" means in everything printed so far; undefined until it is there. */
  readyWhen(stdout: string): T | undefined;
  /** Names the process in errors, e.g. "the admin server". */
  what: string;
  /** @default 15_000 */
  stopLimitMs?: number;
}

export interface WatchedProcess<T> {
  readonly child: Deno.ChildProcess;
  /** What `readyWhen` found; rejects (with the log's end) if the child exits first. */
  readonly ready: Promise<T>;
  /** Its stderr so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after the limit. Idempotent; resolves with the exit status once every pipe is read. */
  stop(): Promise<Deno.CommandStatus>;
}

export function spawnWatched<T = string>(options: WatchedProcessOptions<T>): WatchedProcess<T> {
  const child = new Deno.Command(options.command ?? Deno.execPath(), {
    args: options.args,
    cwd: options.cwd,
    env: options.env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const logged = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
  })().catch(() => {});
  const ready = Promise.withResolvers<T>();
  ready.promise.catch(() => {}); // awaited by whoever needs it; an early exit is reported there
  const printed = (async () => {
    let out = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      out += chunk;
      const found = options.readyWhen(out);
      if (found !== undefined) ready.resolve(found);
    }
    await logged;
    ready.reject(new Error(`${options.what} exited before it was ready; its log ends:\n${log.slice(-4000)}`));
  })().catch(() => {});
  let stopped: Promise<Deno.CommandStatus> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already gone
      }
      let status: Deno.CommandStatus;
      try {
        status = await within(child.status, options.stopLimitMs ?? 15_000, `${options.what} exiting after SIGTERM`);
      } catch {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone meanwhile
        }
        status = await child.status;
      }
      await Promise.all([logged, printed]);
      return status;
    })();
  return { child, ready: ready.promise, log: () => log, stop };
}
