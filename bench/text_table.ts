/**
 * Plain-text tables for the bench's terminal report.
 *
 * @module
 */

/** `headers` and `rows` in columns two spaces apart; columns for which `rightAligned(i)` holds are padded on the left. */
export function table(headers: string[], rows: string[][], rightAligned: (i: number) => boolean): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => rightAligned(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
