/**
 * What the figures were measured on: CPU, memory, and the versions of
 * everything in the path of a work unit.
 *
 * @module
 */
import type { RawSql } from "./raw_sql.ts";

/** The machine and software of a bench run. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryTotalMb: number | null;
  kernel: string;
  deno: string;
  v8: string;
  typescript: string;
  postgresql: string;
  postgresSettings: Record<string, string>;
  pgbench: string;
  postgresJs: string;
  pglite: string;
}

async function readText(path: string | URL): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

async function packageVersion(name: string): Promise<string> {
  const text = await readText(new URL(`../node_modules/${name}/package.json`, import.meta.url));
  if (text) return String(JSON.parse(text).version);
  // No node_modules (global cache): the lockfile pins the version.
  const lock = await readText(new URL("../deno.lock", import.meta.url));
  const match = lock && new RegExp(`"npm:${name.replace("/", "\\/")}@[^"]*": "([^"]+)"`).exec(lock);
  return match ? match[1] : "unknown";
}

async function commandOutput(command: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim() || "unknown";
  } catch {
    return "unknown";
  }
}

/** Reads the machine and versions; `postgres` answers for the server (a raw connection to any database). */
export async function readMachineInfo(postgres: RawSql, binDir?: string): Promise<MachineInfo> {
  const cpuinfo = await readText("/proc/cpuinfo") ?? "";
  const meminfo = await readText("/proc/meminfo") ?? "";
  const memKb = /^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1];
  const settings = await postgres.query(
    `SELECT name, setting FROM pg_settings WHERE name IN
       ('server_version', 'fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_connections',
        'wal_level', 'max_wal_size') ORDER BY name`,
  );
  const postgresSettings = Object.fromEntries(settings.map((r) => [String(r.name), String(r.setting)]));
  return {
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryTotalMb: memKb ? Math.round(Number(memKb) / 1024) : null,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    postgresql: postgresSettings.server_version ?? "unknown",
    postgresSettings,
    pgbench: await commandOutput(binDir ? `${binDir}/pgbench` : "pgbench", ["--version"]),
    postgresJs: await packageVersion("postgres"),
    pglite: await packageVersion("@electric-sql/pglite"),
  };
}
