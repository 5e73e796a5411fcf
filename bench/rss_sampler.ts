/**
 * The process's peak memory over a stretch of time, sampled.
 *
 * @module
 */

/** Peaks seen by a sampler, in bytes. */
export interface MemoryPeaks {
  rssBytes: number;
  /** V8's heap (committed), the JS part of RSS. */
  heapTotalBytes: number;
  /** Memory outside the heap held by JS objects (buffers). */
  externalBytes: number;
}

/** A running sampler: `stop()` returns the largest values it saw. */
export interface RssSampler {
  stop(): MemoryPeaks;
}

/** Samples `Deno.memoryUsage()` every `everyMs` (and once at start and at stop). */
export function startRssSampler(everyMs = 50): RssSampler {
  const peaks: MemoryPeaks = { rssBytes: 0, heapTotalBytes: 0, externalBytes: 0 };
  const sample = () => {
    const m = Deno.memoryUsage();
    peaks.rssBytes = Math.max(peaks.rssBytes, m.rss);
    peaks.heapTotalBytes = Math.max(peaks.heapTotalBytes, m.heapTotal);
    peaks.externalBytes = Math.max(peaks.externalBytes, m.external);
  };
  sample();
  const timer = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { ...peaks };
    },
  };
}
