/**
 * The dashboard's own statement of the admin API's shapes (ui/wire.ts, kept
 * apart so the browser bundle imports no server or BMDB module) against what
 * the server sends: the BMDB's and the server's types as JSON writes them
 * (a Date becomes its ISO string). A field renamed, retyped or added on
 * either side fails `deno task check` here, before a dashboard shows it
 * blank; the enumerations are compared when the test runs.
 *
 * @module
 */
import assert from "node:assert/strict";
import type {
  ActiveWork,
  BmdbCounts,
  FeedList,
  FeedSession,
  HistoryRates,
  ListByProcess,
  LiveSession,
  MachineDetail,
  MachineSummary,
  WhyIdle,
  WorkBackoff,
} from "../../bmdb/mod.ts";
import { MACHINE_TAGS, OPERATOR_PROCESSES, PROVIDERS, ProviderStatus } from "../../bmdb/mod.ts";
import type { TimelineEntry } from "../../server/timeline.ts";
import type { InventoryStatus } from "../../server/inventory_status.ts";
import type { InventoryLocationCounts } from "../../bmdb/mod.ts";
import type * as wire from "../../ui/wire.ts";
import * as wireValues from "../../ui/wire.ts";

/** `T` as `JSON.stringify` writes it and the browser parses it back. */
type Json<T> = T extends Date ? string
  : T extends readonly (infer U)[] ? Json<U>[]
  : T extends object ? { [K in keyof T]: Json<T[K]> }
  : T;

/** True when every value the server sends (`Sent`) is one the dashboard reads as `Read`, and back. */
type Same<Sent, Read> = [Json<Sent>] extends [Read] ? ([Read] extends [Json<Sent>] ? true : false) : false;
/** True when what the server sends is one the dashboard reads (the dashboard may leave fields optional). */
type Reads<Sent, Read> = [Json<Sent>] extends [Read] ? true : false;

// Each line fails to type-check when its two sides part (`deno task check` type-checks tests/).
const _shapes: {
  counts: Reads<BmdbCounts, wire.Counts>;
  rates: Reads<HistoryRates, wire.Rates>;
  sessionsListed: Reads<FeedList<LiveSession>, wire.SessionList>;
  sessionsFed: Reads<FeedList<FeedSession>, wire.SessionList>;
  work: Same<ActiveWork, wire.WorkRow>;
  workListed: Reads<ListByProcess<ActiveWork>, wire.WorkList>;
  backoff: Reads<WorkBackoff, wire.BackoffRow>;
  backoffsListed: Reads<ListByProcess<WorkBackoff>, wire.BackoffList>;
  machine: Reads<MachineSummary, wire.MachineSummary>;
  machineDetail: Reads<MachineDetail, wire.MachineDetail>;
  whyIdle: Reads<WhyIdle, wire.WhyIdle>;
  timeline: Same<TimelineEntry, wire.TimelineEntry>;
  inventory: Same<InventoryStatus, wire.InventoryStatus>;
  inventoryRecorded: Same<InventoryLocationCounts, wire.InventoryView["recorded"][number]>;
} = {
  counts: true,
  rates: true,
  sessionsListed: true,
  sessionsFed: true,
  work: true,
  workListed: true,
  backoff: true,
  backoffsListed: true,
  machine: true,
  machineDetail: true,
  whyIdle: true,
  timeline: true,
  inventory: true,
  inventoryRecorded: true,
};

Deno.test("the dashboard's processes, machine tags, providers and provider statuses are the BMDB's", () => {
  assert.deepEqual([...wireValues.PROCESSES].sort(), [...OPERATOR_PROCESSES].sort());
  assert.deepEqual([...wireValues.MACHINE_TAGS].sort(), [...MACHINE_TAGS].sort());
  assert.deepEqual([...wireValues.PROVIDER_STATUSES].sort(), Object.values(ProviderStatus).sort());
  assert.deepEqual([...wireValues.PROVIDERS].sort(), [...PROVIDERS].sort());
});
