/**
 * The agent program the initializer uploads (bundled into one file by
 * `deno task build:agent`) and runs over SSH with a TakeoverInit on stdin.
 *
 * By default it makes the agent's key pair, saves its state (mode 0600),
 * starts itself again as a detached daemon (own session, no terminal, stdio
 * on a log file, so it outlives the SSH session), waits until that daemon is
 * up, prints the TakeoverReply line and exits 0. The daemon writes its pid
 * next to the state and runs until superseded or never accepted (exit 1) or
 * SIGTERM (exit 0).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Agent, type AgentExit, validateTakeoverInit } from "./agent.ts";
import { collectHardwareReport } from "./hardware.ts";
import type { TakeoverInit } from "./protocol.ts";

const USAGE = `Usage: drover-agent [--state <path>] [--foreground]
       drover-agent --daemon <state>

Reads a TakeoverInit ({"machineId","agentUrl","heartbeatIntervalSeconds"}) as JSON
on stdin, prints the TakeoverReply as one line of JSON on stdout, and heartbeats
to <agentUrl>/agent/v1.

  (default)          detach: save the state, start the daemon, print the reply, exit 0
  --state <path>     the state file (mode 0600); drover-agent.log and drover-agent.pid
                     go next to it. Default: drover-agent.state.json next to this program
  --foreground       print the reply and run in this process (debugging)
  --daemon <state>   run the agent saved in <state> (what detaching starts)
  --help             this text

Exit codes: 0 stopped by SIGTERM/SIGINT (or detached), 1 superseded, never accepted
or failed to start, 2 bad arguments or bad stdin.`;

const MAX_INIT_BYTES = 64 * 1024;
const DAEMON_START_TIMEOUT_MS = 15_000;
const LOG_FILE = "drover-agent.log";
const PID_FILE = "drover-agent.pid";

/** A failure the program reports on stderr and exits with `code`. */
class ExitError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
    this.name = "ExitError";
  }
}

async function main(args: string[]): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args,
      strict: true,
      options: {
        help: { type: "boolean" },
        foreground: { type: "boolean" },
        daemon: { type: "string" },
        state: { type: "string" },
      },
    }).values;
  } catch (error) {
    throw new ExitError(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags.daemon !== undefined) return await runDaemon(resolve(flags.daemon));

  const init = await readInit(Deno.stdin.readable);
  const agent = await Agent.create(init, { hardware: () => collectHardwareReport(), log });
  const reply = JSON.stringify(agent.takeoverReply()) + "\n";
  if (flags.foreground) {
    await writeStdout(reply);
    return exitCode(await runUntilSignal(agent));
  }
  const statePath = resolve(flags.state ?? join(dirname(thisFile()), "drover-agent.state.json"));
  await writeState(statePath, JSON.stringify(await agent.exportState()));
  await startDaemon(statePath);
  await writeStdout(reply);
  return 0;
}

/**
 * Reads the init from stdin: up to EOF or until the text is a complete JSON
 * object, so a starter that leaves stdin open does not hang the takeover.
 */
async function readInit(stdin: ReadableStream<Uint8Array>): Promise<TakeoverInit> {
  const reader = stdin.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  let value: unknown;
  try {
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      bytes += chunk.value.length;
      if (bytes > MAX_INIT_BYTES) throw new ExitError(`stdin: more than ${MAX_INIT_BYTES} bytes`, 2);
      text += decoder.decode(chunk.value, { stream: true });
      value = tryParseObject(text);
      if (value !== undefined) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  if (value === undefined) {
    text += decoder.decode();
    if (text.trim() === "") throw new ExitError("stdin: empty; expected a TakeoverInit as JSON", 2);
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ExitError(`stdin: not JSON: ${(error as Error).message}`, 2);
    }
  }
  try {
    return validateTakeoverInit(value);
  } catch (error) {
    throw new ExitError(`stdin: ${(error as Error).message}`, 2);
  }
}

/** The parsed object when `text` is one complete JSON object, else undefined (more may come). */
function tryParseObject(text: string): object | undefined {
  if (!text.trimEnd().endsWith("}")) return undefined;
  try {
    const value = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the state where only this user can read it: a temporary file, then an atomic rename. */
async function writeState(path: string, json: string): Promise<void> {
  const temporary = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(temporary, json + "\n", { mode: 0o600, createNew: true });
    await Deno.chmod(temporary, 0o600); // in case the umask or an odd filesystem widened it
    await Deno.rename(temporary, path);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw new ExitError(`Cannot write the agent state to ${path}: ${(error as Error).message}`, 1);
  }
}

/**
 * Starts `deno run --allow-all --no-config <this file> --daemon <state>` in a
 * new session (detached: setsid, so no controlling terminal and no SIGHUP when
 * the SSH session ends) with stdin on /dev/null and stdout/stderr appended to
 * the log, then waits until the daemon has written its pid file.
 */
async function startDaemon(statePath: string): Promise<void> {
  const dir = dirname(statePath);
  const logPath = join(dir, LOG_FILE);
  const pidPath = join(dir, PID_FILE);
  await Deno.remove(pidPath).catch(() => {});
  let logFd: number;
  try {
    logFd = openSync(logPath, "a", 0o600);
  } catch (error) {
    throw new ExitError(`Cannot open the agent log ${logPath}: ${(error as Error).message}`, 1);
  }
  const args = ["run", "--allow-all", "--no-config", thisFile(), "--daemon", statePath];
  let exited: { code: number | null; signal: string | null } | undefined;
  try {
    const child = spawn(Deno.execPath(), args, { cwd: dir, detached: true, stdio: ["ignore", logFd, logFd] });
    child.on("exit", (code, signal) => exited = { code, signal });
    child.on("error", () => exited = { code: null, signal: null });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  const deadline = performance.now() + DAEMON_START_TIMEOUT_MS;
  for (;;) {
    const pid = await Deno.readTextFile(pidPath).catch(() => "");
    if (/^\d+\s*$/.test(pid)) return;
    if (exited !== undefined) {
      throw new ExitError(`The agent daemon exited at start (${JSON.stringify(exited)}); see ${logPath}`, 1);
    }
    if (performance.now() > deadline) {
      throw new ExitError(`The agent daemon did not start within ${DAEMON_START_TIMEOUT_MS} ms; see ${logPath}`, 1);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The detached agent: loads the state, records its pid, runs until it ends. */
async function runDaemon(statePath: string): Promise<number> {
  const pidPath = join(dirname(statePath), PID_FILE);
  log(`daemon started (pid ${Deno.pid}, state ${statePath})`);
  let agent: Agent;
  try {
    const state = JSON.parse(await Deno.readTextFile(statePath));
    agent = await Agent.fromState(state, { hardware: () => collectHardwareReport(), log });
  } catch (error) {
    throw new ExitError(`Cannot load the agent state ${statePath}: ${(error as Error).message}`, 1);
  }
  await Deno.writeTextFile(pidPath, `${Deno.pid}\n`);
  try {
    return exitCode(await runUntilSignal(agent));
  } finally {
    // Leave a newer daemon's pid file alone.
    if ((await Deno.readTextFile(pidPath).catch(() => "")).trim() === String(Deno.pid)) {
      await Deno.remove(pidPath).catch(() => {});
    }
  }
}

/** Runs the agent until it ends or SIGTERM/SIGINT stops it; SIGHUP is logged and ignored. */
async function runUntilSignal(agent: Agent): Promise<AgentExit> {
  const stop = new AbortController();
  const onStop = (name: string) => () => {
    log(`${name}: stopping`);
    stop.abort(new Error(name));
  };
  const listeners: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", () => log("SIGHUP: ignored")],
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  try {
    const exit = await agent.run(stop.signal);
    log(`exit: ${exit}`);
    return exit;
  } finally {
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
  }
}

function exitCode(exit: AgentExit): number {
  return exit === "stopped" ? 0 : 1;
}

/** This program's own file: the bundle when bundled, agent/main.ts from source. */
function thisFile(): string {
  return fileURLToPath(import.meta.url);
}

function log(line: string): void {
  console.error(`${new Date().toISOString()} drover-agent[${Deno.pid}] ${line}`);
}

async function writeStdout(text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  for (let written = 0; written < bytes.length;) written += await Deno.stdout.write(bytes.subarray(written));
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    console.error(error instanceof ExitError ? error.message : error);
    code = error instanceof ExitError ? error.code : 1;
  }
  Deno.exit(code);
}
