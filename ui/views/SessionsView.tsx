/**
 * "Sessions": every live session with its component, age, deadline
 * countdown and the work it holds.
 *
 * A heartbeat moves a session's deadline without an event (heartbeats are
 * not changes), so while this view is open it also reads `GET sessions`
 * every 5 s to keep the countdowns true.
 *
 * @module
 */
import { getSessions } from "../api.ts";
import { type Column, DataTable } from "../components/DataTable.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Link } from "../components/Link.tsx";
import { Ago, Until } from "../components/Time.tsx";
import { formatCount, formatSeconds } from "../format.ts";
import { hrefWith } from "../router.ts";
import { useDashboard } from "../state.ts";
import { useRemote } from "../use_remote.ts";
import type { SessionRow } from "../wire.ts";

export function SessionsView() {
  const state = useDashboard();
  const refresh = useRemote("sessions", async (signal) => {
    const reply = await getSessions(signal);
    if (!state.paused.peek()) state.sessions.value = reply;
    return reply;
  }, { intervalMs: 5000, minIntervalMs: 2000, paused: state.paused });

  const list = state.sessions.value;
  const held = state.workBySession.value;
  const columns: Column<SessionRow>[] = [
    { label: "Component", cell: (s) => <strong>{s.component}</strong> },
    { label: "Session", cell: (s) => <span class="mono">{s.sessionId}</span> },
    { label: "Age", cell: (s) => <Ago iso={s.createdAt} /> },
    { label: "Deadline", cell: (s) => <Until iso={s.deadline} /> },
    { label: "Interval", class: "num", cell: (s) => formatSeconds(s.intervalSeconds) },
    {
      label: "Work held",
      class: "num",
      cell: (s) => {
        const n = held.get(s.sessionId) ?? 0;
        return n > 0
          ? <Link href={hrefWith("/work", { session: s.sessionId })}>{n}</Link>
          : <span class="muted">0</span>;
      },
    },
    { label: "Runtime", cell: (s) => <span class="wrap">{s.runtimeInfo || "—"}</span> },
  ];
  return (
    <>
      <h2 id="view-heading" tabIndex={-1}>Sessions</h2>
      <p class="summary">
        {list === undefined ? "Loading…" : `${formatCount(list.total)} live session${list.total === 1 ? "" : "s"}`}
        {list && list.total > list.rows.length && ` (showing the oldest ${formatCount(list.rows.length)})`}
      </p>
      <ErrorNote message={refresh.error.value} />
      {list && (
        <DataTable
          label="Live sessions"
          columns={columns}
          rows={list.rows}
          rowKey={(s) => s.sessionId}
          empty="No live sessions."
        />
      )}
    </>
  );
}
