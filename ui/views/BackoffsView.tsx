/**
 * "Backoffs": machines waiting out a failure (machine, process, until when,
 * the cause, the interval), each with "Retry". Filters by process via the
 * URL (`/backoffs?process=…`).
 *
 * @module
 */
import { type Column, DataTable } from "../components/DataTable.tsx";
import { MachineLink } from "../components/MachineLink.tsx";
import { ProcessFilter } from "../components/ProcessFilter.tsx";
import { Until } from "../components/Time.tsx";
import { RetryButton } from "../components/WorkActions.tsx";
import { formatCount, formatSeconds } from "../format.ts";
import { hrefWith, location, navigate } from "../router.ts";
import { useDashboard } from "../state.ts";
import type { BackoffRow } from "../wire.ts";

export function BackoffsView() {
  const state = useDashboard();
  const process = location.value.search.get("process") ?? "";
  const list = state.backoffs.value;
  const rows = (list?.rows ?? []).filter((b) => !process || b.process === process);
  const columns: Column<BackoffRow>[] = [
    { label: "Machine", cell: (b) => <MachineLink machineId={b.machineId} /> },
    { label: "Process", cell: (b) => b.process },
    { label: "Until", cell: (b) => <Until iso={b.until} /> },
    { label: "Cause", class: "cause", cell: (b) => <span class="wrap">{b.cause}</span> },
    { label: "Interval", class: "num", cell: (b) => formatSeconds(b.lastIntervalSeconds) },
  ];
  if (state.canAct.value) {
    columns.push({
      label: "Action",
      class: "actions",
      cell: (b) => <RetryButton machineId={b.machineId} process={b.process} />,
    });
  }
  return (
    <>
      <h2 id="view-heading" tabIndex={-1}>Backoffs</h2>
      <div class="toolbar">
        <ProcessFilter value={process} onChange={(p) => navigate(hrefWith("/backoffs", { process: p }))} />
        <span class="summary">
          {list === undefined ? "Loading…" : `${formatCount(rows.length)} shown of ${formatCount(list.total)} active`}
          {list && list.total > list.rows.length &&
            ` (the stream carries the ${formatCount(list.rows.length)} ending soonest)`}
        </span>
      </div>
      {list && (
        <DataTable
          label="Active backoffs"
          columns={columns}
          rows={rows}
          rowKey={(b) => `${b.machineId}/${b.process}`}
          empty={process ? "No backoffs of this process." : "No active backoffs."}
        />
      )}
    </>
  );
}
