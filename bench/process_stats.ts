/**
 * Another process's memory and CPU, from /proc (Linux): its resident set now
 * and at its peak, a sampler of its RSS over a stretch of time, and its CPU
 * use over a window. Elsewhere every figure reads as NaN.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import { processCpuMs } from "./cpu_time.ts";

function statusField(pid: number, field: "VmRSS" | "VmHWM"): number {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return NaN; // gone, or not Linux
  }
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, "m").exec(text);
  return match ? Number(match[1]) * 1024 : NaN;
}

/** The process's resident set size now, in bytes; NaN when unreadable. */
export function processRssBytes(pid: number): number {
  return statusField(pid, "VmRSS");
}

/** The largest resident set the process has had since it started (VmHWM), in bytes; NaN when unreadable. */
export function processPeakRssBytes(pid: number): number {
  return statusField(pid, "VmHWM");
}

/** A running RSS sampler: `stop()` returns the largest RSS seen, in bytes. */
export interface RssSampler {
  /** The largest RSS seen so far. */
  peak(): number;
  stop(): number;
}

/** Samples `pid`'s RSS every `everyMs` (and at start and at stop). */
export function sampleProcessRss(pid: number, everyMs = 100): RssSampler {
  let peak = NaN;
  const sample = () => {
    const rss = processRssBytes(pid);
    if (!Number.isNaN(rss)) peak = Number.isNaN(peak) ? rss : Math.max(peak, rss);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    peak: () => peak,
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

/** A process's use of the machine over a window in which nothing was asked of it. */
export interface IdleSample {
  seconds: number;
  /** CPU time (user + system, every thread) over the window, in milliseconds. */
  cpuMs: number;
  /** The same as a share of one core, in percent. */
  cpuPercent: number;
  /** RSS sampled every 100 ms over the window: the largest, and the last. */
  rssPeakBytes: number;
  rssEndBytes: number;
}

/**
 * Measures `pid` over `seconds` (CPU from /proc: 10 ms ticks, so a window of
 * 10 s resolves 0.1% of a core).
 * @throws {Error} the process is gone before or during the window.
 */
export async function sampleIdle(pid: number, seconds: number): Promise<IdleSample> {
  const rss = sampleProcessRss(pid);
  const cpuBefore = processCpuMs(pid);
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  const cpuAfter = processCpuMs(pid);
  const elapsedMs = performance.now() - startedAt;
  const rssPeakBytes = rss.stop();
  if (Number.isNaN(cpuBefore) || Number.isNaN(cpuAfter)) {
    throw new Error(`process ${pid} exited while its idle use was measured`);
  }
  const cpuMs = cpuAfter - cpuBefore;
  return {
    seconds: elapsedMs / 1000,
    cpuMs,
    cpuPercent: (cpuMs / elapsedMs) * 100,
    rssPeakBytes,
    rssEndBytes: processRssBytes(pid),
  };
}
