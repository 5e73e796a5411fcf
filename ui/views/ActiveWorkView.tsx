/**
 * "Active work": work held by live sessions (machine, process, holder,
 * running for), each with "Cancel work". Filters by process or session via
 * the URL (`/work?process=…&session=…`). Rows come and go with the event
 * stream.
 *
 * @module
 */
import { type Column, DataTable } from "../components/DataTable.tsx";
import { MachineLink } from "../components/MachineLink.tsx";
import { ProcessFilter } from "../components/ProcessFilter.tsx";
import { Since } from "../components/Time.tsx";
import { CancelWorkButton } from "../components/WorkActions.tsx";
import { formatCount, formatTime } from "../format.ts";
import { hrefWith, location, navigate } from "../router.ts";
import { useDashboard } from "../state.ts";
import type { WorkRow } from "../wire.ts";

export function ActiveWorkView() {
  const state = useDashboard();
  const search = location.value.search;
  const process = search.get("process") ?? "";
  const session = search.get("session") ?? "";
  const list = state.work.value;
  const rows = (list?.rows ?? []).filter((w) =>
    (!process || w.process === process) && (!session || w.sessionId === session)
  );
  const columns: Column<WorkRow>[] = [
    { label: "Machine", cell: (w) => <MachineLink machineId={w.machineId} /> },
    { label: "Process", cell: (w) => w.process },
    {
      label: "Held by",
      cell: (w) => (
        <>
          <strong>{w.component}</strong> <span class="mono muted" title={w.sessionId}>{w.sessionId.slice(0, 8)}</span>
        </>
      ),
    },
    { label: "Running for", cell: (w) => <Since iso={w.startedAt} /> },
    {
      label: "Status",
      cell: (w) =>
        w.cancelRequestedAt
          ? (
            <span class="badge badge-warn" title={formatTime(w.cancelRequestedAt)}>
              cancel requested{w.cancelRequestedBy ? ` by ${w.cancelRequestedBy}` : ""}
            </span>
          )
          : <span class="muted">running</span>,
    },
  ];
  if (state.canAct.value) {
    columns.push({
      label: "Action",
      class: "actions",
      cell: (w) => (
        <CancelWorkButton
          machineId={w.machineId}
          process={w.process}
          component={w.component}
          sessionId={w.sessionId}
          cancelRequestedAt={w.cancelRequestedAt}
        />
      ),
    });
  }
  const setFilter = (next: { process?: string; session?: string }) =>
    navigate(hrefWith("/work", { process, session, ...next }));
  return (
    <>
      <h2 id="view-heading" tabIndex={-1}>Active work</h2>
      <div class="toolbar">
        <ProcessFilter value={process} onChange={(p) => setFilter({ process: p })} />
        {session && (
          <span class="chip">
            session <span class="mono">{session.slice(0, 8)}</span>
            <button type="button" class="link-button" onClick={() => setFilter({ session: "" })}>
              Show all sessions
            </button>
          </span>
        )}
        <span class="summary">
          {list === undefined ? "Loading…" : `${formatCount(rows.length)} shown of ${formatCount(list.total)} held`}
          {list && list.total > list.rows.length && ` (the stream carries the oldest ${formatCount(list.rows.length)})`}
        </span>
      </div>
      {list && (
        <DataTable
          label="Active work"
          columns={columns}
          rows={rows}
          rowKey={(w) => `${w.machineId}/${w.process}`}
          rowClass={(w) => w.cancelRequestedAt ? "dim" : undefined}
          empty={process || session ? "No active work matches." : "No active work."}
        />
      )}
    </>
  );
}
