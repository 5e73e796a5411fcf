/**
 * The data directory: one Drover at a time (a lock file holding its pid; a
 * lock whose process is gone is taken over), and the admin token generated
 * on first start and kept there (mode 0600), so a restart keeps the login
 * URL working.
 *
 * @module
 */

const LOCK = "drover.lock";
const TOKEN = "admin-token";

/** Another Drover holds the data directory. */
export class DataDirInUseError extends Error {
  constructor(readonly dir: string, readonly pid: number) {
    super(
      `The data directory ${dir} is in use by another Drover (pid ${pid}): stop it, or give this one another ` +
        `directory with DROVER_DATA_DIR`,
    );
    this.name = "DataDirInUseError";
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT"); // a no-op for a running process; throws when there is none
    return true;
  } catch (error) {
    return !(error instanceof Deno.errors.NotFound); // ESRCH: no such process
  }
}

export interface DataDir {
  readonly path: string;
  /** The admin token kept here, made on first use. */
  adminToken(): Promise<string>;
  /** Removes the lock. Idempotent. */
  release(): Promise<void>;
}

/**
 * Creates the directory if needed and locks it for this process.
 * @throws {DataDirInUseError} a live process holds it.
 */
export async function claimDataDir(path: string): Promise<DataDir> {
  await Deno.mkdir(path, { recursive: true });
  const lock = `${path}/${LOCK}`;
  for (let attempt = 0;; attempt++) {
    try {
      const file = await Deno.open(lock, { createNew: true, write: true, mode: 0o644 });
      await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
      file.close();
      break;
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists) || attempt > 0) throw error;
      const pid = Number((await Deno.readTextFile(lock).catch(() => "")).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== Deno.pid && alive(pid)) throw new DataDirInUseError(path, pid);
      await Deno.remove(lock).catch(() => {}); // left by a process that is gone
    }
  }
  let released = false;
  return {
    path,
    async adminToken() {
      const file = `${path}/${TOKEN}`;
      const kept = (await Deno.readTextFile(file).catch(() => "")).trim();
      if (kept.length >= 16) return kept;
      const bytes = crypto.getRandomValues(new Uint8Array(24));
      const token = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
      await Deno.writeTextFile(file, `${token}\n`, { mode: 0o600 });
      return token;
    },
    async release() {
      if (released) return;
      released = true;
      await Deno.remove(lock).catch(() => {});
    },
  };
}
