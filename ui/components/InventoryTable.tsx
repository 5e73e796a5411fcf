/**
 * `InventoryTable`: machines you own per location: how many the inventory
 * file lists, and of the BMDB's Inventory machines there how many it holds,
 * how many are no longer in the file (Missing) and how many have no BMC.
 * Each location links to the machine list searched by it (and a machine's
 * page links back here, its location marked).
 *
 * @module
 */
import { formatCount } from "../format.ts";
import { hrefWith, location } from "../router.ts";
import type { InventoryLocation, RecordedLocation } from "../wire.ts";
import { type Column, DataTable } from "./DataTable.tsx";
import { Link } from "./Link.tsx";

interface Row {
  location: string | null;
  /** In the inventory file. */
  listed: number;
  recorded: RecordedLocation | undefined;
}

/** What the machine list's search takes (as the API checks `q`). */
const SEARCHABLE = /^[A-Za-z0-9.:_-]{1,128}$/;

function rowsOf(listed: readonly InventoryLocation[], recorded: readonly RecordedLocation[] | undefined): Row[] {
  const rows = new Map<string | null, Row>();
  for (const l of listed) rows.set(l.location, { location: l.location, listed: l.machines, recorded: undefined });
  for (const r of recorded ?? []) {
    const row = rows.get(r.location) ?? { location: r.location, listed: 0, recorded: undefined };
    row.recorded = r;
    rows.set(r.location, row);
  }
  // Named locations in order, the machines without one last.
  return [...rows.values()].sort((a, b) =>
    a.location === b.location
      ? 0
      : a.location === null
      ? 1
      : b.location === null
      ? -1
      : a.location.localeCompare(b.location)
  );
}

function LocationLink(props: { location: string | null; params?: Record<string, string>; children: string }) {
  if (props.location === null || !SEARCHABLE.test(props.location)) return <>{props.children}</>;
  return <Link href={hrefWith("/machines", { q: props.location, ...props.params })}>{props.children}</Link>;
}

export interface InventoryTableProps {
  /** Per location, from the inventory file (the `inventory` event). */
  listed: readonly InventoryLocation[];
  /** Per location, from the BMDB (`GET inventory`); undefined while it loads. */
  recorded: readonly RecordedLocation[] | undefined;
}

export function InventoryTable(props: InventoryTableProps) {
  const known = (n: (r: RecordedLocation) => number) => (row: Row) =>
    props.recorded === undefined ? <span class="muted">…</span> : formatCount(row.recorded ? n(row.recorded) : 0);
  const columns: Column<Row>[] = [
    {
      label: "Location",
      cell: (r) => <LocationLink location={r.location}>{r.location ?? "(none given)"}</LocationLink>,
    },
    { label: "In the inventory", class: "num", cell: (r) => formatCount(r.listed) },
    { label: "In the BMDB", class: "num", cell: known((r) => r.machines) },
    {
      label: "Not in the inventory",
      class: "num",
      cell: (row) =>
        row.recorded && row.recorded.missing > 0
          ? (
            <LocationLink location={row.location} params={{ providerStatus: "Missing" }}>
              {formatCount(row.recorded.missing)}
            </LocationLink>
          )
          : known((r) => r.missing)(row),
    },
    { label: "Without BMC", class: "num", cell: known((r) => r.withoutBmc) },
  ];
  return (
    <DataTable
      label="Machines you own per location"
      columns={columns}
      rows={rowsOf(props.listed, props.recorded)}
      rowKey={(r) => r.location ?? "\u0000none"}
      // A machine's page links here with ?location=<its location>: that row is marked.
      rowClass={(r) =>
        r.location !== null && r.location === location.value.search.get("location") ? "highlight" : undefined}
      empty="The inventory lists no machines."
      compact
    />
  );
}
