/**
 * Drover as a child process, as `deno task start` runs it: `deno run` with
 * the start task's own flags (read from deno.json, so they stay the same),
 * but spawned directly, so the child's pid is main.ts's process and /proc
 * shows its CPU and memory (under `deno task`, main.ts would be a grandchild).
 *
 * The child gets the bench's environment without any Drover setting
 * (`DROVER_*`, `EQUINIX_*`, `DATABASE_URL`, `ETCD_ENDPOINTS`) plus `env`.
 *
 * @module
 */
import { spawnWatched } from "../tests/harness/watched_process.ts";
import { startTaskDenoArgs } from "../tests/harness/start_task.ts";

export { startTaskDenoArgs };

const REPO = new URL("../", import.meta.url);
const MAIN = decodeURIComponent(new URL("main.ts", REPO).pathname);

/** The settings main.ts reads: a child must not inherit them from whoever runs the bench. */
const DROVER_SETTING = /^(DROVER_|EQUINIX_|DATABASE_URL$|ETCD_ENDPOINTS$)/;

/** The bench's environment without Drover's settings, plus `env`. */
export function childEnvironment(env: Record<string, string>): Record<string, string> {
  const inherited = Object.entries(Deno.env.toObject()).filter(([name]) => !DROVER_SETTING.test(name));
  return { ...Object.fromEntries(inherited), ...env };
}

/** A running main.ts. */
export interface DroverProcess extends AsyncDisposable {
  readonly pid: number;
  /** `performance.now()` just before the spawn. */
  readonly spawnedAt: number;
  /** The dashboard URL of the line `Drover is running[ (demo fleet…)]. Dashboard: <url>`; rejects if the process exits first. */
  readonly loginUrl: Promise<string>;
  /** Everything it printed on stderr so far (its log). */
  log(): string;
  /** SIGTERM, then SIGKILL after 15 s; resolves once it exited. Idempotent. */
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Spawns main.ts with `env` (see the module doc) in the repository;
 * `extraDenoArgs` go after the start task's (e.g. `--cpu-prof`, to profile it).
 */
export function spawnDrover(env: Record<string, string>, extraDenoArgs: string[] = []): DroverProcess {
  const spawnedAt = performance.now();
  const process = spawnWatched({
    args: [...startTaskDenoArgs(), ...extraDenoArgs, MAIN],
    cwd: decodeURIComponent(REPO.pathname),
    env: childEnvironment(env),
    readyWhen: (stdout) => /Drover is running.*?\. Dashboard: (\S+)/.exec(stdout)?.[1],
    what: "drover",
  });
  return {
    pid: process.child.pid,
    spawnedAt,
    loginUrl: process.ready,
    log: process.log,
    stop: process.stop,
    [Symbol.asyncDispose]: async () => {
      await process.stop();
    },
  };
}

/** A machine as GET /api/v1/machines lists it (the fields read here). */
interface ListedMachine {
  machineId: string;
  agentHeartbeatAt: string | null;
}

/**
 * The machines of the first page (up to 500) and how many of them
 * heartbeat, through the admin API; undefined while the server does not answer.
 */
export async function heartbeatingMachines(
  baseUrl: string,
  token: string,
): Promise<{ machines: number; heartbeating: number; newestHeartbeatAt?: string } | undefined> {
  const response = await fetch(`${baseUrl}/api/v1/machines?limit=500`, {
    headers: { authorization: `Bearer ${token}` },
  }).catch(() => undefined);
  if (!response) return undefined;
  if (!response.ok) {
    await response.body?.cancel();
    return undefined;
  }
  const { rows } = await response.json() as { rows: ListedMachine[] };
  const beats = rows.map((m) => m.agentHeartbeatAt).filter((at): at is string => at !== null).sort();
  return { machines: rows.length, heartbeating: beats.length, newestHeartbeatAt: beats.at(-1) };
}
