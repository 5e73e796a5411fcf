/**
 * "Reservations": what machines Drover may use. For machines you own, the
 * inventory file (live from the event stream: where it is, when it was
 * loaded) per location beside the BMDB's machines there (`GET inventory`,
 * read again when the inventory or the fleet changes). For Equinix Metal,
 * the hardware reservations as the reservations publisher last read them
 * (live from the event stream): counts per plan and metro (total,
 * provisionable, in use), the list, and when it was read.
 *
 * @module
 */
import { useComputed, useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getInventory, getReservations, messageOf } from "../api.ts";
import { type Column, DataTable } from "../components/DataTable.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Link } from "../components/Link.tsx";
import { InventoryProblem } from "../components/InventoryProblem.tsx";
import { InventoryTable } from "../components/InventoryTable.tsx";
import { Ago, At } from "../components/Time.tsx";
import { formatCount } from "../format.ts";
import { location, providerMachineHref } from "../router.ts";
import { useDashboard } from "../state.ts";
import { useRemote } from "../use_remote.ts";
import type { InventoryStatus, ReservationRow } from "../wire.ts";

interface Group {
  plan: string | null;
  metro: string | null;
  total: number;
  provisionable: number;
  inUse: number;
}

function groupsOf(rows: readonly ReservationRow[]): Group[] {
  const groups = new Map<string, Group>();
  for (const r of rows) {
    const key = `${r.plan}\u0000${r.metro}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = { plan: r.plan, metro: r.metro, total: 0, provisionable: 0, inUse: 0 });
    g.total++;
    if (r.provisionable) g.provisionable++;
    if (r.deviceId) g.inUse++;
  }
  return [...groups.values()].sort((a, b) => compare(a.plan, b.plan) || compare(a.metro, b.metro));
}

/** Orders text, unknown (null) last. */
function compare(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a.localeCompare(b);
}

const SHOWN = 200;

export function ReservationsView() {
  const state = useDashboard();
  const error = useSignal<string | undefined>(undefined);
  const showAll = useSignal(false);
  useEffect(() => {
    // The stream's snapshot has them once the publisher has read them; until then ask.
    if (state.reservations.peek() !== undefined) return;
    const controller = new AbortController();
    getReservations(controller.signal).then(
      (list) => {
        if (state.reservations.peek() === undefined) state.reservations.value = list;
      },
      (e) => {
        if (!controller.signal.aborted) error.value = messageOf(e);
      },
    );
    return () => controller.abort();
  }, []);

  const list = state.reservations.value;
  const rows = list?.rows ?? [];
  const groups = groupsOf(rows);
  const lastRead = rows.reduce<string | undefined>((max, r) => (!max || r.readAt > max ? r.readAt : max), undefined);
  const totals = groups.reduce((t, g) => ({
    total: t.total + g.total,
    provisionable: t.provisionable + g.provisionable,
    inUse: t.inUse + g.inUse,
  }), { total: 0, provisionable: 0, inUse: 0 });

  const groupColumns: Column<Group>[] = [
    { label: "Plan", cell: (g) => <span class="mono">{g.plan ?? "unknown"}</span> },
    { label: "Metro", cell: (g) => g.metro ?? "unknown" },
    { label: "Total", class: "num", cell: (g) => formatCount(g.total) },
    { label: "Provisionable", class: "num", cell: (g) => formatCount(g.provisionable) },
    { label: "In use", class: "num", cell: (g) => formatCount(g.inUse) },
  ];
  const rowColumns: Column<ReservationRow>[] = [
    { label: "Reservation", cell: (r) => <span class="mono">{r.id}</span> },
    { label: "Plan", cell: (r) => <span class="mono">{r.plan ?? "—"}</span> },
    { label: "Metro", cell: (r) => r.metro ?? "—" },
    {
      label: "Provisionable",
      cell: (r) => r.provisionable ? <span class="badge badge-ok">yes</span> : <span class="muted">no</span>,
    },
    {
      label: "Device",
      // The device's machine page (found by the device id when followed).
      cell: (r) =>
        r.deviceId
          ? <Link href={providerMachineHref("Equinix", r.deviceId)} class="mono">{r.deviceId}</Link>
          : <span class="muted">—</span>,
    },
    { label: "Read", cell: (r) => <Ago iso={r.readAt} /> },
  ];
  const inventory = state.inventory.value;
  const provisioner = state.provisioner.value;
  // Equinix Metal runs when its provisioner reports (a status without `provider` is from before owned machines).
  const equinixRuns = provisioner !== null && provisioner !== undefined &&
    (provisioner.provider === undefined || provisioner.provider === "Equinix");
  const showEquinix = !inventory || equinixRuns || rows.length > 0;
  const sorted = [...rows].sort((a, b) => compare(a.plan, b.plan) || compare(a.metro, b.metro) || compare(a.id, b.id));
  // A machine's page links here with ?reservation=<id>: that one is marked, and shown even beyond the first ones.
  const wanted = location.value.search.get("reservation");
  const shown = showAll.value || (wanted && !sorted.slice(0, SHOWN).some((r) => r.id === wanted))
    ? sorted
    : sorted.slice(0, SHOWN);

  // Beside an inventory, Equinix Metal is a part of the page with its own heading.
  const Sub = inventory ? "h4" : "h3";

  return (
    <>
      <h2 id="view-heading" tabIndex={-1}>Reservations</h2>
      {inventory && <InventorySection status={inventory} />}
      <section aria-labelledby={inventory ? "r-equinix" : undefined}>
        {inventory && <h3 id="r-equinix">Equinix Metal</h3>}
        {!showEquinix && <p class="empty">No Equinix Metal reservations (Equinix Metal ended on 2026-06-30).</p>}
        {showEquinix && (
          <>
            <ErrorNote message={error.value} />
            <p class="summary">
              {list === undefined
                ? (error.value ? "" : "Loading…")
                : `${formatCount(totals.total)} reservations: ${formatCount(totals.provisionable)} provisionable, ${
                  formatCount(totals.inUse)
                } in use.`}
              {lastRead && (
                <>
                  {" "}Last read <Ago iso={lastRead} /> (<At iso={lastRead} />).
                </>
              )}
            </p>
          </>
        )}
        {showEquinix && list && (
          <>
            <section aria-labelledby="r-groups">
              <Sub id="r-groups">By plan and metro</Sub>
              <DataTable
                label="Reservations by plan and metro"
                columns={groupColumns}
                rows={groups}
                rowKey={(g) => `${g.plan}/${g.metro}`}
                empty="No reservations."
                compact
              />
            </section>
            <section aria-labelledby="r-list">
              <Sub id="r-list">All reservations</Sub>
              <DataTable
                label="All reservations"
                columns={rowColumns}
                rows={shown}
                rowKey={(r) => r.id}
                rowClass={(r) => r.id === wanted ? "highlight" : undefined}
                empty="No reservations."
              />
              {sorted.length > shown.length && (
                <button
                  type="button"
                  onClick={() => {
                    showAll.value = true;
                  }}
                >
                  Show all {formatCount(sorted.length)}
                </button>
              )}
            </section>
          </>
        )}
      </section>
    </>
  );
}

/** The inventory file and, per location, its machines beside the BMDB's. */
function InventorySection(props: { status: InventoryStatus }) {
  const state = useDashboard();
  const changed = useComputed(() => [state.inventory.value, state.fleetChanged.value]);
  const remote = useRemote("inventory", getInventory, {
    refreshOn: changed,
    minIntervalMs: 2000,
    paused: state.paused,
  });
  const s = props.status;
  return (
    <section aria-labelledby="r-inventory">
      <h3 id="r-inventory">Inventory</h3>
      <p class="summary">
        {formatCount(s.machines)} machine{s.machines === 1 ? "" : "s"} you own
        {s.withoutBmc > 0 && ` (${formatCount(s.withoutBmc)} without BMC)`}, from{" "}
        {s.path ? <span class="mono">{s.path}</span> : "the simulated demo fleet"}, loaded <Ago iso={s.loadedAt} />{" "}
        (<At iso={s.loadedAt} />).
      </p>
      <InventoryProblem status={s} />
      <ErrorNote message={remote.error.value} />
      <InventoryTable listed={s.locations} recorded={remote.data.value?.recorded} />
    </section>
  );
}
