/**
 * A machine's page (`/machines/<id>`): what the provider (and the machine's
 * BMC) and the agent say, the SSH host key recorded on first use (with
 * "Clear host key"), its tags, "Power on", "Power off" and "Restart" for a
 * machine you own with a BMC, live work (with "Cancel work"), backoffs (with
 * "Retry"), why each loop leaves it alone, the hardware report and the
 * timeline.
 *
 * Read from `GET machines/:id`, again when the fleet changes (at most every
 * 2 s) and every 15 s (heartbeats are not events); its live work comes from
 * the event stream when that carries the whole fleet's.
 *
 * @module
 */
import { getMachine } from "../api.ts";
import { type Column, DataTable } from "../components/DataTable.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { HardwareReport } from "../components/HardwareReport.tsx";
import { HostKeyFact } from "../components/HostKeyFact.tsx";
import { Link } from "../components/Link.tsx";
import { PowerPanel } from "../components/PowerPanel.tsx";
import { StatusBadge } from "../components/StatusBadge.tsx";
import { Ago, At, Since, Until } from "../components/Time.tsx";
import { Timeline } from "../components/Timeline.tsx";
import { CancelWorkButton, RetryButton } from "../components/WorkActions.tsx";
import { formatSeconds } from "../format.ts";
import { useDashboard } from "../state.ts";
import { useRemote } from "../use_remote.ts";
import type { LoopEligibility, MachineDetail, MachineView, WorkList } from "../wire.ts";

type MachineWork = MachineDetail["work"][number];
type MachineBackoff = MachineDetail["backoffs"][number];

function tagsOf(m: MachineDetail): { tag: string; present: boolean }[] {
  return [
    { tag: "provided", present: m.provider !== null || m.providerId !== null },
    { tag: "agentStarted", present: m.agentStartedAt !== null },
    { tag: "agentHeartbeat", present: m.agentHeartbeatAt !== null },
    { tag: "hardwareReport", present: m.hardwareReport !== null && m.hardwareReport !== undefined },
    { tag: "osInstallationRequest", present: m.osInstallationRequest !== null },
    { tag: "osInstallationReport", present: m.osInstallationReport !== null },
  ];
}

export function MachineDetailView(props: { machineId: string }) {
  const state = useDashboard();
  const remote = useRemote(`machine:${props.machineId}`, (signal) => getMachine(props.machineId, signal), {
    refreshOn: state.fleetChanged,
    minIntervalMs: 2000,
    intervalMs: 15_000,
    paused: state.paused,
  });
  const view = remote.dataKey.value === `machine:${props.machineId}` ? remote.data.value : undefined;
  return (
    <>
      <p class="crumbs">
        <Link href="/machines">Machines</Link> /
      </p>
      <h2 id="view-heading" tabIndex={-1}>
        Machine <span class="mono">{props.machineId}</span>
        {/* Machines you own go by their inventory id. */}
        {view?.machine.provider === "Inventory" && view.machine.providerId && (
          <span class="heading-aside mono">{view.machine.providerId}</span>
        )}
      </h2>
      <ErrorNote message={remote.error.value} />
      {!view && !remote.error.value && <p class="empty">Loading…</p>}
      {view && <MachineBody view={view} onChanged={remote.refresh} />}
    </>
  );
}

/**
 * The machine's work as the event stream last said, when the stream carries
 * all of the fleet's work: a power action that is over in a second shows
 * without waiting for the machine's next read. Else what that read said.
 */
function liveWork(m: MachineDetail, feed: WorkList | undefined): MachineWork[] {
  if (!feed || feed.total > feed.rows.length) return m.work;
  return feed.rows.filter((w) => w.machineId === m.machineId)
    .map(({ process, sessionId, component, startedAt }) => ({ process, sessionId, component, startedAt }));
}

/** A machine you own, listed in the inventory file (not an Equinix Metal device). */
function isOwned(m: MachineDetail): boolean {
  return m.provider === "Inventory";
}

function MachineBody(props: { view: MachineView; onChanged: () => void }) {
  const state = useDashboard();
  const m = props.view.machine;
  const work = liveWork(m, state.work.value);
  const workColumns: Column<MachineWork>[] = [
    { label: "Process", cell: (w) => w.process },
    {
      label: "Held by",
      cell: (w) => (
        <>
          <strong>{w.component}</strong> <span class="mono muted">{w.sessionId}</span>
        </>
      ),
    },
    { label: "Running for", cell: (w) => <Since iso={w.startedAt} /> },
  ];
  const backoffColumns: Column<MachineBackoff>[] = [
    { label: "Process", cell: (b) => b.process },
    { label: "Until", cell: (b) => <Until iso={b.until} /> },
    { label: "Cause", class: "cause", cell: (b) => <span class="wrap">{b.cause}</span> },
    { label: "Interval", class: "num", cell: (b) => formatSeconds(b.lastIntervalSeconds) },
  ];
  if (state.canAct.value) {
    workColumns.push({
      label: "Action",
      class: "actions",
      cell: (w) => {
        // The feed knows whether a cancel is already requested; the machine reply does not say.
        const live = state.work.value?.rows.find((r) => r.machineId === m.machineId && r.process === w.process);
        return (
          <CancelWorkButton
            machineId={m.machineId}
            process={w.process}
            component={w.component}
            sessionId={w.sessionId}
            cancelRequestedAt={live?.cancelRequestedAt}
          />
        );
      },
    });
    backoffColumns.push({
      label: "Action",
      class: "actions",
      cell: (b) => <RetryButton machineId={m.machineId} process={b.process} />,
    });
  }
  return (
    <div class="detail">
      <section aria-labelledby="m-summary" class="panel">
        <h3 id="m-summary">Summary</h3>
        <dl class="facts">
          <ProviderFacts machine={m} />
          {/* A cloud device makes its key on first boot: Drover records keys of machines you own. */}
          {(isOwned(m) || m.sshHostKey) && (
            <>
              <dt>SSH host key</dt>
              <dd>
                <HostKeyFact
                  machineId={m.machineId}
                  name={isOwned(m) ? m.providerId : null}
                  hostKey={m.sshHostKey}
                  canAct={state.canAct.value}
                  onCleared={props.onChanged}
                />
              </dd>
            </>
          )}
          <dt>Created</dt>
          <dd>
            <At iso={m.createdAt} /> (<Ago iso={m.createdAt} />)
          </dd>
          <dt>Agent started</dt>
          <dd>
            <Ago iso={m.agentStartedAt} />
          </dd>
          <dt>Last heartbeat</dt>
          <dd>
            <Ago iso={m.agentHeartbeatAt} />
          </dd>
          <dt>Agent key</dt>
          <dd class="mono wrap">{m.agentPublicKey ?? "—"}</dd>
          <dt>OS installation</dt>
          <dd>
            {m.osInstallationRequest ? `requested generation ${m.osInstallationRequest.generation}` : "not requested"}
            {m.osInstallationReport &&
              `; reported generation ${m.osInstallationReport.generation}: ${m.osInstallationReport.result}`}
          </dd>
        </dl>
        <h4>Tags</h4>
        <ul class="tags" aria-label="Tags">
          {tagsOf(m).map((t) => (
            <li key={t.tag} class={t.present ? "tag tag-on" : "tag tag-off"}>
              <span class="visually-hidden">{t.present ? "has " : "lacks "}</span>
              {t.tag}
            </li>
          ))}
        </ul>
      </section>

      <div class="column">
        {state.canAct.value && isOwned(m) && m.providerBmc && (
          <section aria-labelledby="m-power" class="panel">
            <h3 id="m-power">Power</h3>
            <p class="power-now">
              <span>
                Power state <StatusBadge status={m.providerPowerState ?? "Unknown"} />
              </span>
              {m.providerHealth && (
                <span>
                  BMC health <StatusBadge status={m.providerHealth} />
                </span>
              )}
              {m.providerHeldOffAt && <span class="badge badge-warn">held off</span>}
            </p>
            <PowerPanel
              machineId={m.machineId}
              name={m.providerId}
              heldOff={m.providerHeldOffAt ? { at: m.providerHeldOffAt, by: m.providerHeldOffBy } : null}
              actionRunning={work.some((w) => w.process === "PowerAction")}
            />
          </section>
        )}
        <section aria-labelledby="m-why" class="panel">
          <h3 id="m-why">Why idle</h3>
          <WhyIdleList view={props.view} />
        </section>
      </div>

      <section aria-labelledby="m-work" class="panel wide">
        <h3 id="m-work">Work</h3>
        <DataTable
          label="Work on this machine"
          columns={workColumns}
          rows={work}
          rowKey={(w) => w.process}
          empty="No live work."
        />
        <h3>Backoffs</h3>
        <DataTable
          label="Backoffs of this machine"
          columns={backoffColumns}
          rows={m.backoffs}
          rowKey={(b) => b.process}
          empty="No active backoffs."
        />
      </section>

      <section aria-labelledby="m-hw" class="panel">
        <h3 id="m-hw">Hardware report</h3>
        <HardwareReport report={m.hardwareReport} />
      </section>

      <section aria-labelledby="m-timeline" class="panel wide">
        <h3 id="m-timeline">Timeline</h3>
        <Timeline entries={props.view.timeline} />
      </section>
    </div>
  );
}

function WhyIdleList(props: { view: MachineView }) {
  const why = props.view.whyIdle;
  if (!why.provided) {
    return <p>No provider record: no loop looks at this machine until the provisioner or updater records one.</p>;
  }
  return (
    <ul class="why">
      {why.loops.map((loop: LoopEligibility) => (
        <li key={loop.loop}>
          <p>
            <strong>{loop.loop}</strong> <span class="muted">({loop.process})</span>: {loop.eligible
              ? <span class="badge badge-ok">eligible now</span>
              : <span class="badge badge-neutral">not eligible</span>}
          </p>
          {loop.unmet.length > 0 && (
            <ul>
              {loop.unmet.map((u) => (
                <li key={u.condition}>
                  <span class="mono muted">{u.condition}</span> {u.reason}
                  {u.detail && <div class="detail-text wrap">{u.detail}</div>}
                </li>
              ))}
            </ul>
          )}
        </li>
      ))}
    </ul>
  );
}

/** What the provider says: status (and why it is unknown), where, the BMC's power state and health, a hold. */
function ProviderFacts(props: { machine: MachineDetail }) {
  const m = props.machine;
  const owned = isOwned(m);
  return (
    <>
      <dt>Provider status</dt>
      <dd>
        <StatusBadge status={m.providerStatus} />
        {owned && m.providerStatus === "Missing" && <span class="muted status-note">not in the inventory</span>}
        {m.providerStatusCause && <div class="cause-text wrap">{m.providerStatusCause}</div>}
      </dd>
      <dt>Provider</dt>
      <dd>{m.provider ?? "—"}</dd>
      <dt>Provider id</dt>
      <dd class="mono">{m.providerId ?? "—"}</dd>
      {(!owned || m.providerReservationId) && (
        <>
          <dt>Reservation</dt>
          <dd class="mono">
            {m.providerReservationId
              ? (
                <Link href={`/reservations?reservation=${encodeURIComponent(m.providerReservationId)}`}>
                  {m.providerReservationId}
                </Link>
              )
              : "—"}
          </dd>
        </>
      )}
      <dt>IP address</dt>
      <dd class="mono">{m.providerIpAddress ?? "—"}</dd>
      <dt>{m.provider === "Equinix" ? "Metro" : "Location"}</dt>
      <dd>
        {m.providerLocation && m.provider === "Inventory"
          // The inventory per location, this one marked.
          ? <Link href={`/reservations?location=${encodeURIComponent(m.providerLocation)}`}>{m.providerLocation}</Link>
          : m.providerLocation ?? "—"}
      </dd>
      {(owned || m.providerPowerState || m.providerHeldOffAt) && (
        <>
          <dt>Power state</dt>
          <dd>
            <StatusBadge status={m.providerPowerState} />
            {m.providerHeldOffAt && (
              <div>
                <span class="badge badge-warn">held off</span> by {m.providerHeldOffBy ?? "an operator"} since{" "}
                <At iso={m.providerHeldOffAt} /> (<Ago iso={m.providerHeldOffAt} />): it stays off until powered on
              </div>
            )}
          </dd>
        </>
      )}
      {(owned || m.providerHealth) && (
        <>
          <dt>BMC health</dt>
          <dd>
            <StatusBadge status={m.providerHealth} />
          </dd>
        </>
      )}
      {(owned || m.providerBmc) && (
        <>
          <dt>BMC</dt>
          <dd class={m.providerBmc ? "mono wrap" : "muted"}>{m.providerBmc ?? "none: no power control"}</dd>
        </>
      )}
    </>
  );
}
