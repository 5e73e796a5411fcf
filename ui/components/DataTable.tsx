/**
 * `DataTable`: a dense table with real column headers. Each cell carries its
 * column's label, so on a phone the rows stack as labelled cards (styles.css).
 *
 * @module
 */
import type { ComponentChildren } from "preact";

export interface Column<T> {
  label: string;
  cell: (row: T) => ComponentChildren;
  /** Extra class for the column's cells (e.g. "num", "actions"). */
  class?: string;
  /** On a phone, leave the cell out of the row's card when this says it has nothing to show. */
  phoneHide?: (row: T) => boolean;
}

export interface DataTableProps<T> {
  /** The table's accessible name. */
  label: string;
  columns: Column<T>[];
  rows: readonly T[];
  rowKey: (row: T) => string;
  /** Shown instead of the table when there are no rows. */
  empty: ComponentChildren;
  /** Class for a row (e.g. to dim one whose cancel was requested). */
  rowClass?: (row: T) => string | undefined;
  /** A narrow table (few columns): as wide as its content, and a table on phones too. */
  compact?: boolean;
}

export function DataTable<T>(props: DataTableProps<T>) {
  if (props.rows.length === 0) return <p class="empty">{props.empty}</p>;
  return (
    <div class="table-wrap">
      <table class={props.compact ? "data compact" : "data"} aria-label={props.label}>
        <thead>
          <tr>
            {props.columns.map((c) => <th scope="col" key={c.label} class={c.class}>{c.label}</th>)}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey(row)} class={props.rowClass?.(row)}>
              {props.columns.map((c) => (
                <td
                  key={c.label}
                  class={[c.class, c.phoneHide?.(row) ? "phone-hide" : undefined].filter(Boolean).join(" ") ||
                    undefined}
                  data-label={c.label}
                >
                  <div class="cell">{c.cell(row)}</div>
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
