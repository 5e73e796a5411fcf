/**
 * Prometheus's text exposition format as `/metrics` serves it, read into
 * each metric's type and samples, so a test can ask what a running Drover
 * exports.
 *
 * @module
 */

/** One sample line: its series name (a histogram's `_bucket` etc. included) and labels. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The metrics of one scrape. */
export interface Exposition {
  /** Metric name → type, from the `# TYPE` lines (every registered metric has one, samples or not). */
  types: Map<string, string>;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Reads a scrape's text. */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const type = line.match(/^# TYPE (\S+) (\S+)/);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith("#") || line.trim() === "") continue;
    const sample = line.match(SAMPLE);
    if (!sample) throw new Error(`Cannot read the metrics: a line is neither a comment nor a sample: ${line}`);
    const labels = Object.fromEntries(
      [...(sample[2] ?? "").matchAll(LABEL)].map(([, k, v]) => [k, v.replace(/\\(.)/g, "$1")]),
    );
    samples.push({ name: sample[1], labels, value: Number(sample[3]) });
  }
  return { types, samples };
}

/**
 * The metric a series name belongs to: itself when it has a `# TYPE`, else a
 * histogram's or summary's base for its `_bucket`, `_sum` and `_count` series.
 */
export function metricOf(exposition: Exposition, series: string): string | undefined {
  if (exposition.types.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, "");
  const type = exposition.types.get(base);
  return type === "histogram" || type === "summary" ? base : undefined;
}
