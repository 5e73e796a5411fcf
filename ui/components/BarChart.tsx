/**
 * `BarChart`: a small inline SVG of per-bucket counts (claims or failures per
 * minute over the last hour), oldest bucket first. No chart library: sixty
 * rectangles, a baseline, the peak and the time axis. Each bar's `<title>`
 * names its minute and value; the whole has a text summary for screen
 * readers.
 *
 * @module
 */
import { formatTime } from "../format.ts";

export interface BarChartProps {
  /** What is counted, e.g. "Claims". */
  label: string;
  values: readonly number[];
  bucketSeconds: number;
  /** Start of the oldest bucket (ISO). */
  since: string;
  tone: "ok" | "bad";
}

const WIDTH = 600;
const HEIGHT = 120;
const LEFT = 34;
const BOTTOM = 18;
const TOP = 6;

export function BarChart(props: BarChartProps) {
  const values = props.values;
  const total = values.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...values);
  const last = values.at(-1) ?? 0;
  const plotWidth = WIDTH - LEFT;
  const plotHeight = HEIGHT - BOTTOM - TOP;
  const step = plotWidth / Math.max(1, values.length);
  const scale = peak > 0 ? plotHeight / peak : 0;
  const sinceMs = Date.parse(props.since);
  const minutes = Math.round((values.length * props.bucketSeconds) / 60);
  const summary = `${props.label} per minute over the last ${minutes} minutes: ${total} in all, peak ${peak}, ` +
    `last minute ${last}`;
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{props.label} per minute</span>
        <span class="muted">
          {total.toLocaleString("en-US")} in {minutes} min · peak {peak} · last {last}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={summary} class={`chart-svg chart-${props.tone}`}>
        <line x1={LEFT} x2={WIDTH} y1={HEIGHT - BOTTOM} y2={HEIGHT - BOTTOM} class="axis" />
        <line x1={LEFT} x2={WIDTH} y1={TOP} y2={TOP} class="grid" />
        <text x={LEFT - 4} y={TOP + 4} class="tick" text-anchor="end">{peak}</text>
        <text x={LEFT - 4} y={HEIGHT - BOTTOM} class="tick" text-anchor="end">0</text>
        {values.map((value, i) => {
          const height = value * scale;
          const at = Number.isFinite(sinceMs) ? new Date(sinceMs + i * props.bucketSeconds * 1000).toISOString() : "";
          return (
            <rect
              key={i}
              x={LEFT + i * step + 0.5}
              y={HEIGHT - BOTTOM - height}
              width={Math.max(1, step - 1)}
              height={Math.max(0, height)}
              class="bar"
            >
              <title>{`${formatTime(at)}: ${value}`}</title>
            </rect>
          );
        })}
        <text x={LEFT} y={HEIGHT - 4} class="tick">−{minutes} min</text>
        <text x={LEFT + plotWidth / 2} y={HEIGHT - 4} class="tick" text-anchor="middle">
          −{Math.round(minutes / 2)} min
        </text>
        <text x={WIDTH} y={HEIGHT - 4} class="tick" text-anchor="end">now</text>
      </svg>
    </figure>
  );
}
