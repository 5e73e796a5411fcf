/**
 * "Machines": the fleet one page at a time (keyset paging with the API's
 * `next`, so page 2,000 costs what page 1 does), searched by id, IP,
 * provider id, location (an Equinix metro, an inventory's site or rack) or
 * reservation, and filtered by tag, provider, process, provider status,
 * backoff and work. Each row says where the machine is and, for a machine
 * with a BMC, its power state (and an operator's hold) and health. Everything is in the URL; the pages visited
 * before are in `history.state`, so "Previous" and the browser's back both
 * work. The page shown is read again when the fleet changes.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { getMachines } from "../api.ts";
import { type Column, DataTable } from "../components/DataTable.tsx";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { MachineLink } from "../components/MachineLink.tsx";
import { StatusBadge } from "../components/StatusBadge.tsx";
import { Ago, Until } from "../components/Time.tsx";
import { formatTime } from "../format.ts";
import { hrefWith, location, navigate } from "../router.ts";
import { useDashboard } from "../state.ts";
import { useRemote } from "../use_remote.ts";
import {
  MACHINE_TAGS,
  type MachineFilter,
  type MachineSummary,
  type MachineTag,
  type Process,
  PROCESSES,
  type Provider,
  PROVIDER_STATUSES,
  PROVIDERS,
  type ProviderStatus,
} from "../wire.ts";

const PAGE_SIZE = 50;
const SEARCH = /^[A-Za-z0-9.:_-]*$/;
const FILTER_KEYS = ["q", "tag", "provider", "process", "providerStatus", "inBackoff", "hasWork"] as const;
type FilterKey = typeof FILTER_KEYS[number];
type FilterParams = Partial<Record<FilterKey, string>>;

/** The filter in the URL, as the API takes it (unknown values are passed on: the API names what is wrong). */
function filterOf(params: FilterParams): MachineFilter {
  const bool = (v: string | undefined) => v === "true" ? true : v === "false" ? false : undefined;
  return {
    q: params.q || undefined,
    tag: (params.tag || undefined) as MachineTag | undefined,
    provider: (params.provider || undefined) as Provider | undefined,
    process: (params.process || undefined) as Process | undefined,
    providerStatus: (params.providerStatus || undefined) as ProviderStatus | undefined,
    inBackoff: bool(params.inBackoff),
    hasWork: bool(params.hasWork),
  };
}

interface PageState {
  /** `after` of each page before this one ("" for the first). */
  previous: string[];
}

function previousOf(state: unknown): string[] {
  const previous = (state as PageState | null)?.previous;
  return Array.isArray(previous) ? previous.filter((p): p is string => typeof p === "string") : [];
}

function Select(props: {
  id: string;
  label: string;
  value: string;
  options: readonly (string | [string, string])[];
  onChange: (value: string) => void;
}) {
  return (
    <label class="field" for={props.id}>
      <span>{props.label}</span>
      <select
        id={props.id}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        <option value="">Any</option>
        {props.options.map((o) => {
          const [value, text] = typeof o === "string" ? [o, o] : o;
          return <option key={value} value={value}>{text}</option>;
        })}
      </select>
    </label>
  );
}

export function MachinesView() {
  const state = useDashboard();
  const loc = location.value;
  const params: FilterParams = Object.fromEntries(FILTER_KEYS.map((k) => [k, loc.search.get(k) ?? ""]));
  const after = loc.search.get("after") ?? "";
  const previous = previousOf(loc.state);
  const filter = filterOf(params);
  const key = JSON.stringify([filter, after]);

  const draft = useSignal(params.q ?? "");
  const draftError = useSignal<string | undefined>(undefined);
  // Back/forward or a link changed q: show it in the box.
  useEffect(() => {
    draft.value = params.q ?? "";
    draftError.value = undefined;
  }, [params.q]);

  const page = useRemote(
    key,
    (signal) => getMachines(filter, { after: after || undefined, limit: PAGE_SIZE, signal }),
    {
      refreshOn: state.fleetChanged,
      minIntervalMs: 5000,
      intervalMs: 30_000,
      paused: state.paused,
    },
  );

  const go = (next: FilterParams, pageAfter = "", pageState: PageState = { previous: [] }) =>
    navigate(hrefWith("/machines", { ...params, ...next, after: pageAfter || undefined }), { state: pageState });

  const onSearch = (event: Event) => {
    event.preventDefault();
    const q = draft.value.trim();
    if (!SEARCH.test(q)) {
      draftError.value = "Search takes letters, digits and . : _ - only.";
      return;
    }
    draftError.value = undefined;
    go({ q });
  };

  const reply = page.data.value;
  const stale = page.dataKey.value !== key;
  const rows = reply?.rows ?? [];
  const columns: Column<MachineSummary>[] = [
    { label: "Machine", cell: (m) => <MachineLink machineId={m.machineId} /> },
    {
      label: "Status",
      cell: (m) => (
        <span
          title={m.providerStatusCause ??
            (m.provider === "Inventory" && m.providerStatus === "Missing" ? "not in the inventory" : undefined)}
        >
          <StatusBadge status={m.providerStatus} />
        </span>
      ),
    },
    {
      label: "Provider",
      cell: (m) =>
        m.provider === "Inventory" && m.providerId
          ? (
            // Machines you own go by their inventory id.
            <>
              Inventory <span class="mono muted">{m.providerId}</span>
            </>
          )
          : m.provider ?? <span class="muted">—</span>,
    },
    { label: "IP", cell: (m) => <span class="mono">{m.providerIpAddress ?? "—"}</span> },
    { label: "Location", cell: (m) => m.providerLocation ?? "—" },
    // Only machines you own report power and health: an Equinix page shows no empty columns.
    ...(rows.some(hasBmcFacts) || filter.provider === "Inventory"
      ? [
        {
          label: "Power",
          phoneHide: (m: MachineSummary) => !m.providerPowerState && !m.providerHeldOffAt,
          cell: (m: MachineSummary) => <PowerCell machine={m} />,
        },
        {
          label: "BMC health",
          phoneHide: (m: MachineSummary) => !m.providerHealth,
          cell: (m: MachineSummary) => <StatusBadge status={m.providerHealth} />,
        },
      ]
      : []),
    {
      label: "Agent",
      cell: (m) =>
        m.agentHeartbeatAt
          ? (
            <>
              heartbeat <Ago iso={m.agentHeartbeatAt} />
            </>
          )
          : m.agentStartedAt
          ? (
            <>
              started <Ago iso={m.agentStartedAt} />
            </>
          )
          : <span class="muted">none</span>,
    },
    {
      label: "Work",
      phoneHide: (m) => m.work.length === 0,
      cell: (m) =>
        m.work.length
          ? m.work.map((w) => <div key={w.process}>{w.process} · {w.component}</div>)
          : <span class="muted">—</span>,
    },
    {
      label: "Backoff",
      phoneHide: (m) => m.backoffs.length === 0,
      cell: (m) =>
        m.backoffs.length
          ? m.backoffs.map((b) => (
            <div key={b.process} title={b.cause}>
              {b.process} <Until iso={b.until} />
            </div>
          ))
          : <span class="muted">—</span>,
    },
  ];
  const pageNumber = previous.length + 1;
  const previousPage = () => {
    const back = [...previous];
    go({}, back.pop() ?? "", { previous: back });
  };
  const nextPage = () => {
    if (reply?.next) go({}, reply.next, { previous: [...previous, after] });
  };
  const filtered = FILTER_KEYS.some((k) => params[k]);

  return (
    <>
      <h2 id="view-heading" tabIndex={-1}>Machines</h2>
      <form class="filters" role="search" onSubmit={onSearch}>
        <label class="field grow" for="machine-search">
          <span>Search</span>
          <input
            id="machine-search"
            type="search"
            value={draft.value}
            onInput={(e) => {
              draft.value = (e.currentTarget as HTMLInputElement).value;
            }}
            placeholder="id, IP, provider id, location, reservation"
            autoComplete="off"
            spellcheck={false}
            aria-invalid={draftError.value ? true : undefined}
            aria-describedby={draftError.value ? "search-error" : undefined}
          />
        </label>
        <button type="submit">Search</button>
        <Select
          id="filter-tag"
          label="Tag"
          value={params.tag ?? ""}
          options={MACHINE_TAGS}
          onChange={(tag) => go({ tag })}
        />
        <Select
          id="filter-provider"
          label="Provider"
          value={params.provider ?? ""}
          options={PROVIDERS}
          onChange={(provider) => go({ provider })}
        />
        <Select
          id="filter-process"
          label="Process"
          value={params.process ?? ""}
          options={PROCESSES}
          onChange={(process) => go({ process })}
        />
        <Select
          id="filter-status"
          label="Provider status"
          value={params.providerStatus ?? ""}
          options={PROVIDER_STATUSES}
          onChange={(providerStatus) => go({ providerStatus })}
        />
        <Select
          id="filter-backoff"
          label="In backoff"
          value={params.inBackoff ?? ""}
          options={[["true", "Yes"], ["false", "No"]]}
          onChange={(inBackoff) => go({ inBackoff })}
        />
        <Select
          id="filter-work"
          label="Has work"
          value={params.hasWork ?? ""}
          options={[["true", "Yes"], ["false", "No"]]}
          onChange={(hasWork) => go({ hasWork })}
        />
        {filtered && (
          <button
            type="button"
            class="link-button"
            onClick={() => {
              draft.value = "";
              go({ q: "", tag: "", provider: "", process: "", providerStatus: "", inBackoff: "", hasWork: "" });
            }}
          >
            Clear filters
          </button>
        )}
      </form>
      {draftError.value && <p id="search-error" class="error-note" role="alert">{draftError.value}</p>}
      <ErrorNote message={page.error.value} />
      <div class="toolbar">
        <span class="summary" aria-live="polite">
          {reply === undefined || stale
            ? (page.error.value ? "" : `Page ${pageNumber}: loading…`)
            : `Page ${pageNumber}: ${rows.length} machine${rows.length === 1 ? "" : "s"}${
              reply.next ? "" : " (last page)"
            }`}
        </span>
        <Pager
          label="Pages"
          hasPrevious={after !== ""}
          hasNext={!stale && !!reply?.next}
          onPrevious={previousPage}
          onNext={nextPage}
        />
      </div>
      {reply && (
        <div class={stale ? "stale" : undefined}>
          <DataTable
            label="Machines"
            columns={columns}
            rows={rows}
            rowKey={(m) => m.machineId}
            empty={after ? "No more machines." : filtered ? "No machine matches." : "No machines yet."}
          />
        </div>
      )}
      {rows.length > 10 && (after !== "" || !!reply?.next) && (
        <div class="toolbar">
          <Pager
            label="Pages, at the end of the list"
            hasPrevious={after !== ""}
            hasNext={!stale && !!reply?.next}
            onPrevious={previousPage}
            onNext={nextPage}
          />
        </div>
      )}
    </>
  );
}

function Pager(
  props: { label: string; hasPrevious: boolean; hasNext: boolean; onPrevious: () => void; onNext: () => void },
) {
  return (
    <nav class="pager" aria-label={props.label}>
      <button type="button" onClick={props.onPrevious} disabled={!props.hasPrevious}>
        <span aria-hidden="true">←</span> Previous
      </button>
      <button type="button" onClick={props.onNext} disabled={!props.hasNext}>
        Next <span aria-hidden="true">→</span>
      </button>
    </nav>
  );
}

function hasBmcFacts(m: MachineSummary): boolean {
  return m.provider === "Inventory" || m.providerPowerState !== null || m.providerHealth !== null;
}

/** The BMC's power state, and "held off" while an operator holds the machine off. */
function PowerCell(props: { machine: MachineSummary }) {
  const m = props.machine;
  if (!m.providerPowerState && !m.providerHeldOffAt) return <span class="muted">—</span>;
  return (
    <span class="cell-badges">
      {m.providerPowerState && <StatusBadge status={m.providerPowerState} />}
      {m.providerHeldOffAt && (
        <span
          class="badge badge-warn"
          title={`held off by ${m.providerHeldOffBy ?? "an operator"} since ${formatTime(m.providerHeldOffAt)}`}
        >
          held off
          <span class="visually-hidden">{` by ${m.providerHeldOffBy ?? "an operator"}`}</span>
        </span>
      )}
    </span>
  );
}
