/**
 * The janitor: on a schedule, deletes sessions expired longer than a grace
 * period (releasing their work as Expired, so a crashed component's machines
 * do not wait on a dead row), and prunes history older than the retention.
 *
 * Not a work loop: it holds no machine. Every replica may run it; both
 * statements are idempotent and short.
 *
 * @module
 */
import type { Registry } from "prom-client";
import type { Bmdb, Logger } from "../bmdb/mod.ts";
import { counterOn } from "./metrics.ts";
import { runEvery } from "./schedule.ts";

export interface JanitorOptions {
  /** Time between passes. @default 60_000 */
  intervalMs?: number;
  /** Sessions are deleted this long after their deadline. @default 300 */
  sessionGraceSeconds?: number;
  /** History older than this goes. @default 30 days */
  historyRetentionSeconds?: number;
  registry: Registry;
  logger: Logger;
}

/** What one pass did. */
export interface JanitorPass {
  sessions: number;
  work: number;
  history: number;
}

function janitorMetrics(registry: Registry) {
  return {
    sessions: counterOn(registry, "drover_janitor_sessions_reaped_total", "Expired sessions the janitor deleted."),
    work: counterOn(
      registry,
      "drover_janitor_work_released_total",
      "Work of dead sessions the janitor released (Expired).",
    ),
    history: counterOn(
      registry,
      "drover_janitor_history_pruned_total",
      "History rows older than the retention, deleted.",
    ),
    errors: counterOn(
      registry,
      "drover_janitor_errors_total",
      "Janitor passes that failed (retried at the next pass).",
    ),
  };
}

export class Janitor {
  readonly #bmdb: Bmdb;
  readonly #intervalMs: number;
  readonly #graceSeconds: number;
  readonly #retentionSeconds: number;
  readonly #logger: Logger;
  readonly #metrics: ReturnType<typeof janitorMetrics>;

  constructor(bmdb: Bmdb, options: JanitorOptions) {
    this.#bmdb = bmdb;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#graceSeconds = options.sessionGraceSeconds ?? 300;
    this.#retentionSeconds = options.historyRetentionSeconds ?? 30 * 86400;
    if (!(this.#intervalMs > 0)) {
      throw new RangeError(`Cannot run the janitor: intervalMs must be > 0: current value is ${this.#intervalMs}`);
    }
    this.#logger = options.logger;
    this.#metrics = janitorMetrics(options.registry);
  }

  /** One pass: reap, then prune. */
  async pass(): Promise<JanitorPass> {
    const reaped = await this.#bmdb.reapExpiredSessions({ graceSeconds: this.#graceSeconds });
    const pruned = await this.#bmdb.pruneHistory({ olderThanSeconds: this.#retentionSeconds });
    this.#metrics.sessions.inc(reaped.sessions);
    this.#metrics.work.inc(reaped.work);
    this.#metrics.history.inc(pruned.deleted);
    return { sessions: reaped.sessions, work: reaped.work, history: pruned.deleted };
  }

  /** Passes every interval until `signal` aborts; a failed pass is logged and retried at the next. */
  async run(signal: AbortSignal): Promise<void> {
    await runEvery(this.#intervalMs, signal, async () => {
      const done = await this.pass();
      if (done.sessions + done.history > 0) this.#logger.info("janitor pass", { ...done });
    }, (error) => {
      this.#metrics.errors.inc();
      this.#logger.warn("janitor pass failed; retrying at the next", { error });
    });
  }
}
