/**
 * CPU time, from /proc: this process, its finished children (run.sh and its
 * pgbench), and a PostgreSQL server (the postmaster, its live backends and
 * the backends it has reaped). Unlike units/s, CPU per unit hardly moves when
 * other processes load the machine, so it tells a real difference from noise.
 * Linux only; elsewhere every figure reads as NaN.
 *
 * @module
 */

/** Cumulative CPU time (user + system), in milliseconds. */
export interface CpuTimes {
  selfMs: number;
  /** Children this process has waited for. */
  childrenMs: number;
  /** The PostgreSQL server, when its postmaster's pid was given. */
  serverMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux, whatever the kernel's HZ

interface ProcStat {
  ppid: number;
  selfMs: number;
  childrenMs: number;
}

function readStat(pid: number | "self"): ProcStat | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined; // gone, or not Linux
  }
  // Fields after "(comm)", which may itself hold spaces: state ppid ... utime(14) stime(15) cutime(16) cstime(17).
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    ppid: Number(f[1]),
    selfMs: (Number(f[11]) + Number(f[12])) * TICK_MS,
    childrenMs: (Number(f[13]) + Number(f[14])) * TICK_MS,
  };
}

/** CPU time (user + system) a live process has used so far, in milliseconds; NaN when unreadable. */
export function processCpuMs(pid: number): number {
  return readStat(pid)?.selfMs ?? NaN;
}

/** The postmaster's pid, from the first line of `<dataDir>/postmaster.pid`; undefined when unreadable. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(Deno.readTextFileSync(`${dataDir}/postmaster.pid`).split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function serverMs(postmaster: number): number {
  const main = readStat(postmaster);
  if (!main) return NaN;
  let total = main.selfMs + main.childrenMs;
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readStat(Number(entry.name));
    if (stat?.ppid === postmaster) total += stat.selfMs;
  }
  return total;
}

/** Reads the CPU times now. */
export function readCpuTimes(postmaster?: number): CpuTimes {
  const self = readStat("self");
  return {
    selfMs: self?.selfMs ?? NaN,
    childrenMs: self?.childrenMs ?? NaN,
    serverMs: postmaster === undefined ? NaN : serverMs(postmaster),
  };
}

/** CPU per unit between two readings, in microseconds. */
export function cpuPerUnit(before: CpuTimes, after: CpuTimes, units: number): {
  selfUs: number;
  childrenUs: number;
  serverUs: number;
} {
  const per = (a: number, b: number) => units > 0 ? ((b - a) * 1000) / units : NaN;
  return {
    selfUs: per(before.selfMs, after.selfMs),
    childrenUs: per(before.childrenMs, after.childrenMs),
    serverUs: per(before.serverMs, after.serverMs),
  };
}
