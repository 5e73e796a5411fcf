/**
 * The dashboard's store: one signal per live value of the event stream, the
 * clock the countdowns tick with, and the pause switch.
 *
 * Every event carries a whole value (not a change to one), so while paused
 * only the newest value of each topic is held back; resuming applies them in
 * the order they came, which catches the views up at once.
 *
 * @module
 */
import { batch, computed, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type {
  BackoffList,
  Counts,
  InventoryStatus,
  Overview,
  ProcessCounts,
  ProvisionerStatus,
  Rates,
  ReservationList,
  SessionList,
  Snapshot,
  WorkList,
} from "./wire.ts";

/** The event names the server sends, each with its data. */
export interface EventData {
  snapshot: Snapshot;
  counts: Counts;
  sessions: SessionList;
  work: WorkList;
  backoffs: BackoffList;
  reservations: ReservationList;
  provisioner: ProvisionerStatus | null;
  inventory: InventoryStatus;
}
export type EventName = keyof EventData;
export const EVENT_NAMES: readonly EventName[] = [
  "snapshot",
  "counts",
  "sessions",
  "work",
  "backoffs",
  "reservations",
  "provisioner",
  "inventory",
];

export type Connection = "connecting" | "live" | "reconnecting" | "logged out";

export interface DashboardState {
  role: Signal<"admin" | "readonly" | undefined>;
  /** True when actions may be offered (admin token). */
  canAct: ReadonlySignal<boolean>;
  counts: Signal<Counts | undefined>;
  sessions: Signal<SessionList | undefined>;
  work: Signal<WorkList | undefined>;
  backoffs: Signal<BackoffList | undefined>;
  reservations: Signal<ReservationList | undefined>;
  /** `undefined`: not known yet; `null`: no provisioner runs. */
  provisioner: Signal<ProvisionerStatus | null | undefined>;
  /** `undefined`: not known yet; `null`: no inventory runs (no machines you own). */
  inventory: Signal<InventoryStatus | null | undefined>;
  rates: Signal<Rates | undefined>;
  /** Work held per session id, from the work list. */
  workBySession: ReadonlySignal<Map<string, number>>;
  /** Server clock minus this browser's clock, in ms (from `GET overview`). */
  clockOffsetMs: Signal<number>;
  /** The server's "now" in ms, ticking every second: what countdowns and ages are computed from. */
  now: Signal<number>;
  paused: Signal<boolean>;
  /** Events held back while paused. */
  heldCount: Signal<number>;
  connection: Signal<Connection>;
  /** Bumped whenever applied events changed work, backoffs or counts: views that read the API refetch on it. */
  fleetChanged: Signal<number>;
  /** Internal: the newest held value per topic, in arrival order. */
  held: Map<EventName, unknown>;
}

export function createDashboardState(): DashboardState {
  const role = signal<"admin" | "readonly" | undefined>(undefined);
  const work = signal<WorkList | undefined>(undefined);
  return {
    role,
    canAct: computed(() => role.value === "admin"),
    counts: signal(undefined),
    sessions: signal(undefined),
    work,
    backoffs: signal(undefined),
    reservations: signal(undefined),
    provisioner: signal(undefined),
    inventory: signal(undefined),
    rates: signal(undefined),
    workBySession: computed(() => {
      const held = new Map<string, number>();
      for (const row of work.value?.rows ?? []) held.set(row.sessionId, (held.get(row.sessionId) ?? 0) + 1);
      return held;
    }),
    clockOffsetMs: signal(0),
    now: signal(Date.now()),
    paused: signal(false),
    heldCount: signal(0),
    connection: signal("connecting"),
    fleetChanged: signal(0),
    held: new Map(),
  };
}

/** The store, for views (provided once by main.tsx). */
export const DashboardContext = createContext<DashboardState | undefined>(undefined);

/** Per-process counts from rows, for lists that came without `byProcess`. */
function countByProcess(rows: { process: string }[]): ProcessCounts {
  const out: ProcessCounts = {};
  for (const row of rows) out[row.process] = (out[row.process] ?? 0) + 1;
  return out;
}

/**
 * Sessions whose event lacks a deadline keep the one last read for them
 * (heartbeats move deadlines without an event; `GET sessions` has them).
 */
function withDeadlines(next: SessionList, previous: SessionList | undefined): SessionList {
  if (next.rows.every((row) => row.deadline)) return next;
  const known = new Map(previous?.rows.map((row) => [row.sessionId, row.deadline]) ?? []);
  return { ...next, rows: next.rows.map((row) => row.deadline ? row : { ...row, deadline: known.get(row.sessionId) }) };
}

function applyNow<N extends EventName>(state: DashboardState, name: N, data: EventData[N]): void {
  switch (name) {
    case "snapshot": {
      const snapshot = data as Snapshot;
      // The inventory's value is set before the server serves: absent means no inventory runs.
      if (!("inventory" in snapshot)) state.inventory.value = null;
      for (const key of EVENT_NAMES) {
        if (key !== "snapshot" && key in snapshot) {
          applyNow(state, key, (snapshot as Record<string, unknown>)[key] as EventData[typeof key]);
        }
      }
      return;
    }
    case "counts":
      state.counts.value = data as Counts;
      state.fleetChanged.value++;
      return;
    case "sessions":
      state.sessions.value = withDeadlines(data as SessionList, state.sessions.peek());
      return;
    case "work": {
      const list = data as WorkList;
      state.work.value = list.byProcess ? list : { ...list, byProcess: countByProcess(list.rows) };
      state.fleetChanged.value++;
      return;
    }
    case "backoffs": {
      const list = data as BackoffList;
      state.backoffs.value = list.byProcess ? list : { ...list, byProcess: countByProcess(list.rows) };
      state.fleetChanged.value++;
      return;
    }
    case "reservations":
      // API.md says `{ rows }` (as GET reservations); a bare list is taken too.
      state.reservations.value = Array.isArray(data) ? { rows: data } : data as ReservationList;
      return;
    case "provisioner":
      state.provisioner.value = data as ProvisionerStatus | null;
      return;
    case "inventory":
      state.inventory.value = data as InventoryStatus;
      return;
  }
}

/** Applies one event, or holds it back while paused (keeping only the newest per topic). */
export function applyEvent<N extends EventName>(state: DashboardState, name: N, data: EventData[N]): void {
  if (state.paused.peek()) {
    // A snapshot supersedes everything held before it.
    if (name === "snapshot") state.held.clear();
    state.held.delete(name);
    state.held.set(name, data);
    state.heldCount.value = state.heldCount.peek() + 1;
    return;
  }
  batch(() => applyNow(state, name, data));
}

/** Pauses or resumes; resuming applies what was held, in order. */
export function setPaused(state: DashboardState, paused: boolean): void {
  batch(() => {
    state.paused.value = paused;
    if (paused) return;
    for (const [name, data] of state.held) applyNow(state, name, data as EventData[typeof name]);
    state.held.clear();
    state.heldCount.value = 0;
  });
}

/**
 * Takes what `GET overview` adds to the stream: the rates, the server's clock,
 * and counts and provisioner status only while the stream has not sent them
 * (a stream value is newer than a reply that may have been in flight).
 */
export function applyOverview(state: DashboardState, overview: Overview, receivedAtMs: number): void {
  batch(() => {
    state.rates.value = overview.rates;
    const serverMs = Date.parse(overview.serverTime);
    if (Number.isFinite(serverMs)) state.clockOffsetMs.value = serverMs - receivedAtMs;
    if (state.counts.peek() === undefined) state.counts.value = overview.counts;
    if (state.provisioner.peek() === undefined) state.provisioner.value = overview.provisioner;
  });
}

/** Starts the one-second clock; returns its stop function. */
export function startClock(state: DashboardState): () => void {
  const tick = () => {
    state.now.value = Date.now() + state.clockOffsetMs.peek();
  };
  tick();
  const timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}

/** The store from context (main.tsx provides it). */
export function useDashboard(): DashboardState {
  const state = useContext(DashboardContext);
  if (!state) throw new Error("useDashboard() needs a DashboardContext.Provider above it");
  return state;
}
