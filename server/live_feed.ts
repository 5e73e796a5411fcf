/**
 * What the dashboard watches live: the BMDB's change feed (counts, sessions,
 * active work, backoffs) in memory values, plus the reservations and the
 * provisioner's status, all streamed to every client by one {@linkcode EventHub}.
 *
 * @module
 */
import type { ActiveWork, Bmdb, BmdbCounts, FeedList, FeedSession, WorkBackoff } from "../bmdb/mod.ts";
import { MemoryValue, type Value } from "../event/mod.ts";
import type { ProvisionerStatus, ReservationView } from "../loops/mod.ts";
import { EventHub, type EventHubOptions } from "./event_hub.ts";

export interface LiveFeed {
  readonly hub: EventHub;
  /** Ends the event streams (the HTTP server's shutdown waits for them) and the change feed. */
  close(): Promise<void>;
}

/** Opens the change feed (resolves once its values are set) and the hub over it. */
export async function openLiveFeed(
  bmdb: Bmdb,
  sources: {
    reservations: Value<readonly ReservationView[]>;
    provisioner: Value<ProvisionerStatus | null>;
    /** The inventory of machines you own, when there is one. */
    inventory?: Value<unknown>;
    hub?: EventHubOptions;
    /** Shortest time between two re-reads of one feed topic. @default 100 */
    minRefreshIntervalMs?: number;
  },
): Promise<LiveFeed> {
  const values = {
    counts: new MemoryValue<BmdbCounts>(),
    sessions: new MemoryValue<FeedList<FeedSession>>(),
    activeWork: new MemoryValue<FeedList<ActiveWork>>(),
    backoffs: new MemoryValue<FeedList<WorkBackoff>>(),
  };
  const feed = await bmdb.openChangeFeed({ values, minRefreshIntervalMs: sources.minRefreshIntervalMs });
  const hub = new EventHub({
    counts: values.counts,
    sessions: values.sessions,
    work: values.activeWork,
    backoffs: values.backoffs,
    reservations: sources.reservations,
    provisioner: sources.provisioner,
    ...(sources.inventory ? { inventory: sources.inventory } : {}),
  }, sources.hub);
  let closed: Promise<void> | undefined;
  return {
    hub,
    close: () =>
      closed ??= (async () => {
        hub.close();
        await feed.close();
      })(),
  };
}
