/**
 * The change feed: the BMDB's live state as values a dashboard can watch
 * (counts, live sessions, active work, active backoffs), kept current from
 * database change notifications instead of per-client polling.
 *
 * - On PostgreSQL, triggers (`migrations/0003_change_feed.up.sql`) notify
 *   channel `drover_bmdb_change` with the table (and machine) that changed.
 *   After the first LISTEN and after every re-LISTEN (a restart), everything
 *   is read again, so a change made while the connection was down is not
 *   missed. Claims and releases of the BMDB's work pool do not notify from
 *   inside their transactions (the NOTIFY lock would put their commits in a
 *   row: `migrations/0006_...`); their driver notifies after they commit
 *   (`work_doorbell.ts`), and since they all write `work_history`, the feed
 *   also polls history every `historyPollIntervalMs` (`change_poller.ts`,
 *   history only) for a notification lost with its process.
 * - On PGlite (one backend in this process), the driver reports the tables
 *   each committed statement wrote (`written_tables.ts`): no trigger, no
 *   NOTIFY.
 * - Without NOTIFY (CockroachDB), a cheap poll detects changes
 *   (`change_poller.ts`).
 * - Marks are coalesced per topic (`refresh_scheduler.ts`): at most one
 *   re-read of a topic per `minRefreshIntervalMs`, and always one after the
 *   last change.
 * - Time alone also changes what counts: a backoff runs out at `until`, a
 *   session dies at its deadline. The feed re-reads at the earliest of those.
 *
 * The BMDB does not import `event/`: the caller passes the values to publish
 * into (anything with `set`, e.g. `MemoryValue` from `event/mod.ts`), and
 * watches them. A value is set only when what it holds changed.
 *
 * @module
 */
import type { Driver, Listening } from "./driver.ts";
import { InvalidArgumentError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { ALL_TABLES, startChangePoller } from "./change_poller.ts";
import type { WorkBackoff } from "./queries_base.ts";
import {
  type ActiveWork,
  type FeedList,
  type FeedSession,
  listActiveBackoffs,
  listActiveWork,
  listLiveSessions,
  toActiveBackoffs,
  toActiveWork,
  toLiveSessions,
} from "./queries_feed.ts";
import { type BmdbCounts, countMachines } from "./queries_stats.ts";
import { NO_GUARD } from "./query.ts";
import { RefreshScheduler } from "./refresh_scheduler.ts";
import { render, type Sql } from "./sql.ts";
import * as check from "./validate.ts";

/** Where the feed publishes one of its values: an Event Value's `set` (`MemoryValue` in `event/mod.ts`). */
export interface FeedSink<T> {
  set(value: T): void;
}

/** The values a {@linkcode ChangeFeed} keeps current. */
export interface ChangeFeedValues {
  /** Machines, live sessions, active work per process, active backoffs per process. */
  counts: FeedSink<BmdbCounts>;
  /** Live sessions, oldest first. */
  sessions: FeedSink<FeedList<FeedSession>>;
  /** Work held by live sessions, oldest first. */
  activeWork: FeedSink<FeedList<ActiveWork>>;
  /** Backoffs that have not run out, the soonest to run out first. */
  backoffs: FeedSink<FeedList<WorkBackoff>>;
}

/** Options for `Bmdb.openChangeFeed`. */
export interface ChangeFeedOptions<V extends ChangeFeedValues> {
  /** Where to publish (e.g. four `MemoryValue`s). Each is set once before `openChangeFeed` resolves. */
  values: V;
  /**
   * `notify`: the database reports changes (PostgreSQL's NOTIFY, PGlite's
   * driver); `poll`: polls even where it could; `auto`: notify where the
   * database can, else poll (CockroachDB). @default "auto"
   */
  mode?: "auto" | "notify" | "poll";
  /** Rows per list; `total` still counts them all. @default 1000 */
  listLimit?: number;
  /** Shortest time between two re-reads of one topic. @default 100 */
  minRefreshIntervalMs?: number;
  /**
   * Notify mode where the driver's claims and releases notify after their
   * commit (`Driver.workChangesInHistory`): between two polls of history, which
   * find a change whose notification was lost with its process. @default 1000
   */
  historyPollIntervalMs?: number;
  /** Poll mode: between two change-detection polls. @default 1000 */
  pollIntervalMs?: number;
  /** Poll mode: between two full re-reads, a safety net for what the poll cannot see. @default 60000 */
  resyncIntervalMs?: number;
  /** Aborting it closes the feed. */
  signal?: AbortSignal;
}

type Topic = "machines" | "sessions" | "work" | "backoffs";
const TOPICS: readonly Topic[] = ["machines", "sessions", "work", "backoffs"];

/** The topic a changed table feeds. Sessions feed active work only by dying (see the "sessions" refresh). */
const TOPIC_OF_TABLE: Readonly<Record<string, Topic>> = {
  machines: "machines",
  sessions: "sessions",
  work_slot: "work",
  work_backoff: "backoffs",
};

const MACHINE_COUNT = countMachines();

/**
 * Notify mode's history poll: how long after its id was handed out a history
 * row may commit and still be seen by the poll (at least one poll interval).
 * The work pool takes its ids in the statement that commits, milliseconds
 * before the commit. One that commits later still shows with the next change
 * to work or backoffs, or at the resync. Each poll counts the rows of this
 * window.
 */
const HISTORY_WINDOW_MS = 250;

/** Timers longer than this are re-armed (setTimeout's limit is about 24 days). */
const MAX_TIMER_MS = 3_600_000;
/** Past the expiry, so the server's `now()` is past it too when the re-read runs. */
const EXPIRY_SLACK_MS = 20;

/** What the feed needs from the Bmdb that opens it. */
export interface ChangeFeedContext {
  driver: Driver;
  logger: Logger;
  onClosed(feed: ChangeFeed<ChangeFeedValues>): void;
}

/**
 * A running change feed. Open it with `Bmdb.openChangeFeed` (one per
 * process: the server streams its values to every client); `close()` stops
 * listening, polling and timers. `Bmdb.close()` closes it too.
 */
export class ChangeFeed<V extends ChangeFeedValues = ChangeFeedValues> {
  readonly counts: V["counts"];
  readonly sessions: V["sessions"];
  readonly activeWork: V["activeWork"];
  readonly backoffs: V["backoffs"];
  /** How it learns of changes. */
  readonly mode: "notify" | "poll";

  readonly #context: ChangeFeedContext;
  readonly #listLimit: number;
  readonly #scheduler: RefreshScheduler<Topic>;
  readonly #stop = new AbortController();
  readonly #published = new Map<keyof ChangeFeedValues, string>();
  readonly #counts: Partial<BmdbCounts> = {};
  readonly #expiryTimers = new Map<Topic, ReturnType<typeof setTimeout>>();
  readonly #loaded = new Set<Topic>();
  #liveSessionIds: string | undefined;
  #listening: Listening | undefined;
  #listens = 0;
  #polling: Promise<void> | undefined;
  readonly #ready: PromiseWithResolvers<void> = Promise.withResolvers();
  #isReady = false;
  #closing: Promise<void> | undefined;

  /** @internal Use `Bmdb.openChangeFeed`. */
  constructor(
    context: ChangeFeedContext,
    init: { values: V; mode: "notify" | "poll"; listLimit: number; minRefreshIntervalMs: number },
  ) {
    this.#context = context;
    this.counts = init.values.counts;
    this.sessions = init.values.sessions;
    this.activeWork = init.values.activeWork;
    this.backoffs = init.values.backoffs;
    this.mode = init.mode;
    this.#listLimit = init.listLimit;
    this.#scheduler = new RefreshScheduler<Topic>({
      refresh: (topic) => this.#refresh(topic),
      minIntervalMs: init.minRefreshIntervalMs,
      onError: (topic, error, failures) => {
        if (!this.#isReady) this.#ready.reject(error);
        else this.#context.logger.warn("change feed refresh failed; retrying", { topic, failures, error });
      },
    });
    this.#ready.promise.catch(() => {}); // observed by start()
  }

  /**
   * @internal Subscribes (or starts polling) and publishes every value once.
   * @throws what the first read threw, or the reason of `signal`.
   */
  async start(
    o: { pollIntervalMs: number; historyPollIntervalMs: number; resyncIntervalMs: number; signal?: AbortSignal },
  ): Promise<void> {
    const { driver } = this.#context;
    if (o.signal) {
      const signal = o.signal;
      const onAbort = () => void this.#shutdown(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#stop.signal.addEventListener("abort", () => signal.removeEventListener("abort", onAbort), { once: true });
    }
    if (this.mode === "notify" && driver.listenForChanges) {
      this.#listening = await driver.listenForChanges({
        onNotify: (payload) => this.#changed(payload.split(":", 1)[0]),
        // First subscription and every re-subscription: what happened meanwhile is unknown.
        onListen: () => {
          if (++this.#listens > 1) this.#context.logger.info("change feed listening again; reading everything");
          this.#markAll();
        },
      });
      if (this.#stop.signal.aborted) await this.#listening.close(); // closed while subscribing
      if (driver.workChangesInHistory && !this.#stop.signal.aborted) {
        const poller = await startChangePoller({
          driver,
          historyOnly: true,
          intervalMs: o.historyPollIntervalMs,
          windowMs: HISTORY_WINDOW_MS,
          resyncMs: o.resyncIntervalMs,
          onChange: (tables) => tables.forEach((t) => this.#changed(t)),
          onError: (error) => this.#context.logger.warn("change feed history poll failed; retrying", { error }),
          signal: this.#stop.signal,
        });
        this.#polling = poller.done;
        this.#markAll(); // after the poll's baseline, so a claim just before it is not missed
      }
    } else {
      const poller = await startChangePoller({
        driver,
        intervalMs: o.pollIntervalMs,
        windowMs: 5_000,
        resyncMs: o.resyncIntervalMs,
        onChange: (tables) => tables.forEach((t) => this.#changed(t)),
        onError: (error) => this.#context.logger.warn("change feed poll failed; retrying", { error }),
        signal: this.#stop.signal,
      });
      this.#polling = poller.done;
      this.#markAll(); // after the poll's baseline, so nothing between the two is missed
    }
    await this.#ready.promise;
  }

  #changed(table: string): void {
    const topic = TOPIC_OF_TABLE[table];
    if (topic) this.#scheduler.mark(topic);
    else ALL_TABLES.forEach((t) => this.#scheduler.mark(TOPIC_OF_TABLE[t])); // unknown payload: read everything
  }

  #markAll(): void {
    for (const topic of TOPICS) this.#scheduler.mark(topic);
  }

  async #query(statement: Sql) {
    const { text, params } = render(statement);
    return await this.#context.driver.query(text, params, "read committed");
  }

  async #refresh(topic: Topic): Promise<void> {
    if (this.#stop.signal.aborted) return;
    const limit = { limit: this.#listLimit };
    switch (topic) {
      case "machines":
        this.#counts.machines = MACHINE_COUNT.map(await this.#query(MACHINE_COUNT.build(NO_GUARD)));
        break;
      case "sessions": {
        const result = toLiveSessions(await this.#query(listLiveSessions(limit)));
        this.#publish("sessions", result.list);
        this.#counts.liveSessions = result.list.total;
        this.#armExpiry("sessions", result.nextExpiryMs);
        // A session that died (deadline passed, no row change) takes its work off the active list.
        const ids = `${result.list.total}:${result.list.rows.map((s) => s.sessionId).join(",")}`;
        if (this.#liveSessionIds !== undefined && ids !== this.#liveSessionIds) this.#scheduler.mark("work");
        this.#liveSessionIds = ids;
        break;
      }
      case "work": {
        const result = toActiveWork(await this.#query(listActiveWork(limit)));
        this.#publish("activeWork", result.list);
        this.#counts.activeWork = result.byProcess;
        break;
      }
      case "backoffs": {
        const result = toActiveBackoffs(await this.#query(listActiveBackoffs(limit)));
        this.#publish("backoffs", result.list);
        this.#counts.activeBackoffs = result.byProcess;
        this.#armExpiry("backoffs", result.nextExpiryMs);
        break;
      }
    }
    this.#loaded.add(topic);
    if (this.#loaded.size === TOPICS.length) {
      const { machines, liveSessions, activeWork, activeBackoffs } = this.#counts as BmdbCounts;
      this.#publish("counts", { machines, liveSessions, activeWork, activeBackoffs });
      this.#isReady = true;
      this.#ready.resolve();
    }
  }

  /** Sets a value unless it holds that already. */
  #publish<K extends keyof ChangeFeedValues>(key: K, value: Parameters<ChangeFeedValues[K]["set"]>[0]): void {
    if (this.#stop.signal.aborted) return;
    const json = JSON.stringify(value);
    if (this.#published.get(key) === json) return;
    this.#published.set(key, json);
    (this[key] as FeedSink<typeof value>).set(value);
  }

  /** Re-reads `topic` when its earliest row stops counting (no row changes then). */
  #armExpiry(topic: Topic, inMs: number | undefined): void {
    clearTimeout(this.#expiryTimers.get(topic));
    this.#expiryTimers.delete(topic);
    if (inMs === undefined || this.#stop.signal.aborted) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, inMs) + EXPIRY_SLACK_MS);
    this.#expiryTimers.set(topic, setTimeout(() => this.#scheduler.mark(topic), delay));
  }

  /** Stops listening (or polling) and every timer; the values keep what they hold. Idempotent. */
  close(): Promise<void> {
    return this.#shutdown(new Error("The change feed was closed while it opened"));
  }

  #shutdown(reason: unknown): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop.abort();
      if (!this.#isReady) this.#ready.reject(reason);
      for (const timer of this.#expiryTimers.values()) clearTimeout(timer);
      this.#expiryTimers.clear();
      await this.#listening?.close();
      await this.#polling;
      await this.#scheduler.close();
      this.#context.onClosed(this as ChangeFeed<ChangeFeedValues>);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Checks options and opens a feed on `context.driver`; closes it again if the first read fails. */
export async function openChangeFeed<V extends ChangeFeedValues>(
  context: ChangeFeedContext,
  options: ChangeFeedOptions<V>,
): Promise<ChangeFeed<V>> {
  const o = check.options("options", options);
  const values = check.options("values", o.values);
  for (const key of ["counts", "sessions", "activeWork", "backoffs"] as const) {
    if (typeof (values[key] as Partial<FeedSink<unknown>> | undefined)?.set !== "function") {
      throw new InvalidArgumentError(`values.${key}`, "must have a set(value) method (e.g. a MemoryValue)");
    }
  }
  const mode = check.oneOf("mode", o.mode ?? "auto", ["auto", "notify", "poll"] as const);
  if (mode === "notify" && !context.driver.listenForChanges) {
    throw new InvalidArgumentError(
      "mode",
      `"notify" needs LISTEN/NOTIFY, which ${context.driver.target} lacks: use "auto" or "poll"`,
    );
  }
  const listLimit = check.integer("listLimit", o.listLimit ?? 1000, { min: 1, max: 100_000 });
  const minRefreshIntervalMs = check.integer("minRefreshIntervalMs", o.minRefreshIntervalMs ?? 100, {
    min: 0,
    max: 60_000,
  });
  const pollIntervalMs = check.integer("pollIntervalMs", o.pollIntervalMs ?? 1000, { min: 10, max: 600_000 });
  const historyPollIntervalMs = check.integer("historyPollIntervalMs", o.historyPollIntervalMs ?? 1000, {
    min: 10,
    max: 600_000,
  });
  const resyncIntervalMs = check.integer("resyncIntervalMs", o.resyncIntervalMs ?? 60_000, {
    min: 100,
    max: 86_400_000,
  });
  o.signal?.throwIfAborted();

  const feed = new ChangeFeed(context, {
    values,
    mode: mode === "poll" || !context.driver.listenForChanges ? "poll" : "notify",
    listLimit,
    minRefreshIntervalMs,
  });
  try {
    await feed.start({ pollIntervalMs, historyPollIntervalMs, resyncIntervalMs, signal: o.signal });
    return feed;
  } catch (error) {
    await feed.close();
    throw error;
  }
}
