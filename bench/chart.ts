/**
 * A line chart as SVG text, written by hand (no dependency): categories on
 * the x axis, a linear y axis from zero with round ticks, one line with
 * markers per series, and a legend on the right.
 *
 * @module
 */

/** One line of the chart: a value (or a gap) per x category. */
export interface ChartSeries {
  label: string;
  values: readonly (number | undefined)[];
  color: string;
  /** Dashed line: for yardsticks beside the measured lines. */
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  /** A second, smaller line under the title. */
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  /** The x categories, evenly spaced, in order. */
  categories: readonly string[];
  series: readonly ChartSeries[];
  width?: number;
  height?: number;
}

const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\"";

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A round tick step (1, 2 or 5 times a power of ten) giving about `ticks` intervals up to `max`. */
export function niceStep(max: number, ticks: number): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step ?? 10 * power;
}

function formatTick(value: number): string {
  return value.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

/** The chart as a standalone SVG document. */
export function lineChartSvg(o: LineChartOptions): string {
  const width = o.width ?? 820;
  const height = o.height ?? 460;
  const plot = { left: 78, top: o.subtitle ? 72 : 52, right: width - 230, bottom: height - 62 };
  const values = o.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
  const step = niceStep(Math.max(1, ...values), 5);
  const yMax = Math.max(step, Math.ceil(Math.max(1, ...values) / step) * step);
  const x = (i: number) =>
    o.categories.length === 1
      ? (plot.left + plot.right) / 2
      : plot.left + 40 + (i * (plot.right - plot.left - 80)) / (o.categories.length - 1);
  const y = (v: number) => plot.bottom - (v / yMax) * (plot.bottom - plot.top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `${FONT} font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${plot.left}" y="28" font-size="17" font-weight="600" fill="#111">${escapeXml(o.title)}</text>`,
  ];
  if (o.subtitle) {
    out.push(`<text x="${plot.left}" y="48" font-size="12" fill="#555">${escapeXml(o.subtitle)}</text>`);
  }
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    out.push(
      `<line x1="${plot.left}" y1="${y(v)}" x2="${plot.right}" y2="${y(v)}" stroke="#e3e3e3"/>`,
      `<text x="${plot.left - 8}" y="${y(v) + 4}" text-anchor="end" fill="#333">${formatTick(v)}</text>`,
    );
  }
  o.categories.forEach((label, i) => {
    out.push(
      `<line x1="${x(i)}" y1="${plot.bottom}" x2="${x(i)}" y2="${plot.bottom + 5}" stroke="#333"/>`,
      `<text x="${x(i)}" y="${plot.bottom + 21}" text-anchor="middle" fill="#333">${escapeXml(label)}</text>`,
    );
  });
  out.push(
    `<line x1="${plot.left}" y1="${plot.bottom}" x2="${plot.right}" y2="${plot.bottom}" stroke="#333"/>`,
    `<line x1="${plot.left}" y1="${plot.top}" x2="${plot.left}" y2="${plot.bottom}" stroke="#333"/>`,
    `<text x="${(plot.left + plot.right) / 2}" y="${height - 18}" text-anchor="middle" fill="#111">` +
      `${escapeXml(o.xLabel)}</text>`,
    `<text transform="translate(20 ${(plot.top + plot.bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#111">` +
      `${escapeXml(o.yLabel)}</text>`,
  );
  for (const s of o.series) {
    const points = s.values.flatMap((v, i) => v !== undefined && Number.isFinite(v) ? [[x(i), y(v)] as const] : []);
    const dash = s.dashed ? ` stroke-dasharray="7 5"` : "";
    if (points.length > 1) {
      out.push(
        `<polyline points="${points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(" ")}" ` +
          `fill="none" stroke="${s.color}" stroke-width="2.5"${dash}/>`,
      );
    }
    for (const [px, py] of points) {
      out.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="4" fill="${s.color}"/>`);
    }
  }
  o.series.forEach((s, i) => {
    const ly = plot.top + 10 + i * 24;
    const lx = plot.right + 24;
    const dash = s.dashed ? ` stroke-dasharray="7 5"` : "";
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 30}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${dash}/>`,
      `<circle cx="${lx + 15}" cy="${ly}" r="4" fill="${s.color}"/>`,
      `<text x="${lx + 40}" y="${ly + 4}" fill="#111">${escapeXml(s.label)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
