/**
 * The hardware report: read from Linux's /proc and /sys on a real machine,
 * made up (deterministically, from the machine id) on a simulated one.
 *
 * @module
 */
import type { HardwareReport } from "./protocol.ts";

/** Options of {@linkcode collectHardwareReport}. */
export interface CollectHardwareOptions {
  /** Where `proc/` and `sys/` are found; tests point it at a fake tree. @default "/" */
  root?: string;
}

/**
 * Reads this machine's CPU (/proc/cpuinfo), memory (/proc/meminfo), disks
 * (/sys/block, without loop, ram and zram devices) and NICs (/sys/class/net,
 * without lo). Never throws: a part it cannot read comes back empty (0, "",
 * null or no entries), so a report always goes out.
 */
export async function collectHardwareReport(options: CollectHardwareOptions = {}): Promise<HardwareReport> {
  const root = (options.root ?? "/").replace(/\/+$/, "");
  const [cpuinfo, meminfo, disks, nics] = await Promise.all([
    readText(`${root}/proc/cpuinfo`),
    readText(`${root}/proc/meminfo`),
    readDisks(`${root}/sys/block`),
    readNics(`${root}/sys/class/net`),
  ]);
  return { cpu: parseCpuInfo(cpuinfo ?? ""), memoryBytes: parseMemTotal(meminfo ?? ""), disks, nics, simulated: false };
}

/** Threads are `processor` entries; cores are distinct (physical id, core id) pairs where the kernel lists them. */
function parseCpuInfo(text: string): HardwareReport["cpu"] {
  const processors = text.split(/\n\s*\n/).map(parseFields).filter((fields) => fields.has("processor"));
  const coreIds = new Set<string>();
  for (const fields of processors) {
    const core = fields.get("core id");
    if (core !== undefined) coreIds.add(`${fields.get("physical id") ?? "0"}/${core}`);
  }
  const all = parseFields(text);
  // x86 says "model name"; older ARM "Processor"; MIPS "cpu model"; POWER "cpu".
  const model = ["model name", "Processor", "cpu model", "cpu"].map((key) => all.get(key)).find((v) => v) ?? "";
  // Without a readable cpuinfo, the runtime's count is better than claiming no CPU.
  const threads = processors.length || (navigator.hardwareConcurrency ?? 0);
  const cores = coreIds.size > 0 && processors.every((f) => f.has("core id")) ? coreIds.size : threads;
  return { model, cores, threads };
}

/** `key : value` lines; the first occurrence of a key wins. */
function parseFields(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim();
    if (key && !fields.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  return fields;
}

function parseMemTotal(text: string): number {
  const match = /^MemTotal:\s*(\d+)\s*kB/m.exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

async function readDisks(dir: string): Promise<HardwareReport["disks"]> {
  const names = (await listDir(dir)).filter((name) => !/^(loop|ram|zram)\d/.test(name));
  return await Promise.all(names.map(async (name) => {
    const [size, model, rotational] = await Promise.all([
      readText(`${dir}/${name}/size`),
      readText(`${dir}/${name}/device/model`),
      readText(`${dir}/${name}/queue/rotational`),
    ]);
    const sectors = Number(size?.trim()); // always 512-byte units, whatever the device's sector size
    const rot = rotational?.trim();
    return {
      name,
      sizeBytes: Number.isSafeInteger(sectors) && sectors > 0 ? sectors * 512 : 0,
      model: model?.trim() || null,
      rotational: rot === "1" ? true : rot === "0" ? false : null,
    };
  }));
}

async function readNics(dir: string): Promise<HardwareReport["nics"]> {
  const names = (await listDir(dir)).filter((name) => name !== "lo");
  return await Promise.all(names.map(async (name) => {
    const [address, speed] = await Promise.all([readText(`${dir}/${name}/address`), readText(`${dir}/${name}/speed`)]);
    // speed is -1 or unreadable (EINVAL) while the link is down, and on virtual interfaces.
    const mbps = Number(speed?.trim());
    return {
      name,
      mac: address?.trim() || null,
      speedMbps: speed !== undefined && Number.isSafeInteger(mbps) && mbps > 0 ? mbps : null,
    };
  }));
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

async function listDir(path: string): Promise<string[]> {
  try {
    const names: string[] = [];
    for await (const entry of Deno.readDir(path)) names.push(entry.name);
    return names.sort();
  } catch {
    return [];
  }
}

const GiB = 1024 ** 3;
const SIMULATED_CPUS = [
  { model: "AMD EPYC 7402P 24-Core Processor", cores: 24 },
  { model: "AMD EPYC 7513 32-Core Processor", cores: 32 },
  { model: "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", cores: 32 },
  { model: "Intel(R) Xeon(R) E-2378G CPU @ 2.80GHz", cores: 8 },
] as const;
const SIMULATED_DISKS = [
  { model: "Micron_7450_MTFDKBG960TFR", sizeBytes: 960_197_124_096 },
  { model: "SAMSUNG MZQL21T9HCJR-00A07", sizeBytes: 1_920_383_410_176 },
  { model: "KIOXIA KCD6XLUL3T84", sizeBytes: 3_840_755_982_336 },
] as const;

/**
 * A plausible report for a simulated machine: the same `machineId` always
 * gives the same report, and `simulated` is true.
 */
export function simulatedHardwareReport(machineId: string): HardwareReport {
  const random = seededRandom(machineId);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const cpu = pick(SIMULATED_CPUS);
  const disk = pick(SIMULATED_DISKS);
  const diskCount = 1 + Math.floor(random() * 4);
  const speedMbps = pick([10_000, 25_000]);
  // Locally administered unicast MACs (02:…), two ports of one card.
  const mac = [0x02, ...Array.from({ length: 4 }, () => Math.floor(random() * 256))];
  const macOf = (port: number) => [...mac, port * 2].map((b) => b.toString(16).padStart(2, "0")).join(":");
  return {
    cpu: { model: cpu.model, cores: cpu.cores, threads: cpu.cores * 2 },
    memoryBytes: pick([64, 128, 256, 512]) * GiB,
    disks: Array.from({ length: diskCount }, (_, i) => ({ name: `nvme${i}n1`, ...disk, rotational: false })),
    nics: [0, 1].map((port) => ({ name: `enp65s0f${port}`, mac: macOf(port), speedMbps })),
    simulated: true,
  };
}

/** mulberry32 seeded with FNV-1a of `seed`: small, fast, and the same on every runtime. */
function seededRandom(seed: string): () => number {
  let state = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) state = Math.imul(state ^ seed.charCodeAt(i), 0x01000193);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
