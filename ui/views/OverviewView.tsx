/**
 * "Overview": live counts (machines, live sessions, active work and backoffs
 * per process), a note when the demo fleet runs, the inventory of machines you own (and a warning while its
 * last reload failed), claims and failures per minute over the last hour,
 * and the provisioner's status.
 *
 * The counts and the inventory come from the event stream; the rates and the provisioner's
 * last pass from `GET overview`, read every 30 s while this view is open.
 *
 * @module
 */
import { getOverview } from "../api.ts";
import { BarChart } from "../components/BarChart.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { InventoryProblem } from "../components/InventoryProblem.tsx";
import { Link } from "../components/Link.tsx";
import { Ago } from "../components/Time.tsx";
import { formatCount } from "../format.ts";
import { applyOverview, useDashboard } from "../state.ts";
import { useRemote } from "../use_remote.ts";
import { PROCESSES } from "../wire.ts";

function sum(counts: Partial<Record<string, number>> | undefined): number | undefined {
  if (!counts) return undefined;
  return Object.values(counts).reduce((a: number, b) => a + (b ?? 0), 0);
}

function Stat(props: { label: string; value: number | undefined; href: string }) {
  return (
    <Link href={props.href} class="stat">
      <span class="stat-value">{formatCount(props.value)}</span>
      <span class="stat-label">{props.label}</span>
    </Link>
  );
}

export function OverviewView() {
  const state = useDashboard();
  const overview = useRemote("overview", async (signal) => {
    const reply = await getOverview(signal);
    if (!state.paused.peek()) applyOverview(state, reply, Date.now());
    return reply;
  }, { intervalMs: 30_000, minIntervalMs: 5000, paused: state.paused });

  const counts = state.counts.value;
  const rates = state.rates.value;
  const provisioner = state.provisioner.value;
  const inventory = state.inventory.value;
  // Every known process, plus any other the server counts.
  const processes = [
    ...new Set([...PROCESSES, ...Object.keys(counts?.activeWork ?? {}), ...Object.keys(counts?.activeBackoffs ?? {})]),
  ];

  return (
    <>
      <h2 id="view-heading" tabIndex={-1}>Overview</h2>
      <ErrorNote message={overview.error.value} />
      {overview.data.value?.demo && (
        <aside class="callout callout-info" aria-label="Demo fleet">
          <strong>Demo fleet.</strong>{" "}
          The simulated machines misbehave on purpose, on a schedule you can watch: an agent start that hangs for a
          minute (<Link href="/work">Active work</Link>: cancel it), agent starts that fail a few times
          (<Link href="/backoffs">Backoffs</Link>: retry them), agents that go quiet (the recoverer brings them back)
          and a provisioning that fails.{" "}
          <span class="muted">
            Start with DROVER_DEMO=false for a quiet fleet; any real provider turns it off.
          </span>
        </aside>
      )}
      {inventory && <InventoryProblem status={inventory} />}
      <div class="stats">
        <Stat label="Machines" value={counts?.machines} href="/machines" />
        <Stat label="Live sessions" value={counts?.liveSessions} href="/sessions" />
        <Stat label="Active work" value={sum(counts?.activeWork)} href="/work" />
        <Stat label="Backoffs" value={sum(counts?.activeBackoffs)} href="/backoffs" />
      </div>
      {inventory && (
        <p class="inventory-line">
          Inventory: {formatCount(inventory.machines)} machine{inventory.machines === 1 ? "" : "s"}{" "}
          ({formatCount(inventory.withoutBmc)} without BMC) from{" "}
          {inventory.path ? <span class="mono">{inventory.path}</span> : "the simulated demo fleet"}, loaded{" "}
          <Ago iso={inventory.loadedAt} />. <Link href="/reservations">Per location</Link>
        </p>
      )}

      <section aria-labelledby="per-process">
        <h3 id="per-process">Per process</h3>
        <div class="table-wrap">
          <table class="data compact" aria-label="Active work and backoffs per process">
            <thead>
              <tr>
                <th scope="col">Process</th>
                <th scope="col" class="num">Active work</th>
                <th scope="col" class="num">Backoffs</th>
              </tr>
            </thead>
            <tbody>
              {processes.map((process) => (
                <tr key={process}>
                  <td data-label="Process">{process}</td>
                  <td data-label="Active work" class="num">
                    <Link href={`/work?process=${process}`}>
                      {formatCount(counts ? counts.activeWork[process] ?? 0 : undefined)}
                    </Link>
                  </td>
                  <td data-label="Backoffs" class="num">
                    <Link href={`/backoffs?process=${process}`}>
                      {formatCount(counts ? counts.activeBackoffs[process] ?? 0 : undefined)}
                    </Link>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section aria-labelledby="rates">
        <h3 id="rates">Last hour</h3>
        {rates
          ? (
            <div class="charts">
              <BarChart
                label="Claims"
                values={rates.claims}
                bucketSeconds={rates.bucketSeconds}
                since={rates.since}
                tone="ok"
              />
              <BarChart
                label="Failures"
                values={rates.failures}
                bucketSeconds={rates.bucketSeconds}
                since={rates.since}
                tone="bad"
              />
            </div>
          )
          : <p class="empty">{overview.error.value ? "Rates unavailable." : "Loading rates…"}</p>}
      </section>

      <section aria-labelledby="provisioner">
        <h3 id="provisioner">Provisioner</h3>
        {provisioner === undefined && <p class="empty">Loading…</p>}
        {provisioner === null && <p class="empty">No provisioner reports to this server.</p>}
        {provisioner && (
          <dl class="facts">
            {provisioner.provider && (
              <>
                <dt>Provider</dt>
                <dd>{provisioner.provider}</dd>
              </>
            )}
            <dt>State</dt>
            <dd>
              {provisioner.halted
                ? <span class="badge badge-bad">Halted</span>
                : <span class="badge badge-ok">Running</span>}
            </dd>
            {provisioner.halted && (
              <>
                <dt>Why</dt>
                <dd>{provisioner.reason ?? "no reason given"}</dd>
              </>
            )}
            <dt>Managed devices</dt>
            <dd>
              {provisioner.managedDevices === null ? "unknown" : formatCount(provisioner.managedDevices)}
              {/* Machines you own are as many as the inventory lists: no maximum applies. */}
              {provisioner.maxDevices !== null && provisioner.provider !== "Inventory" &&
                ` of at most ${formatCount(provisioner.maxDevices)}`}
            </dd>
            <dt>Last pass</dt>
            <dd>
              <Ago iso={provisioner.lastPassAt} />
            </dd>
          </dl>
        )}
      </section>
    </>
  );
}
