// pg-boss as a peer (bench/README.md, "Peers"): its own schema on a fresh database, jobs enqueued with its
// insert, and `work()` with `concurrency` workers, each fetching and completing one job at a time.

// Loaded by name: Node finds it in bench/peers/node_modules, and `deno check bench/`, which walks this file
// too, does not try to resolve it.
const PACKAGE = "pg-boss";
const QUEUE = "noop";
/** Jobs per insert call while enqueueing. */
const CHUNK = 5000;

/** @returns {Promise<any>} */
async function load() {
  return await import(PACKAGE);
}

/**
 * Constructor settings both instances share: no supervision (maintenance and queue monitoring passes, which
 * run every minute or so and are housekeeping, not the job path), no cron scheduling, no LISTEN/NOTIFY
 * (`useListenNotify` stays at its default, off: the queue is pre-filled).
 */
const COMMON = { supervise: false, schedule: false };

export const pgBoss = {
  /**
   * Installs pg-boss's schema, creates the queue (standard policy), enqueues `jobs` no-op jobs, and
   * refreshes the queue's cached counts, which the workers' burst mode reads (see `start`).
   */
  async prepare({ connectionString, jobs }) {
    const { PgBoss } = await load();
    const boss = new PgBoss({ connectionString, ...COMMON, max: 4 });
    const failures = [];
    boss.on("error", (error) => failures.push(error));
    await boss.start();
    try {
      await boss.createQueue(QUEUE);
      for (let done = 0; done < jobs; done += CHUNK) {
        const n = Math.min(CHUNK, jobs - done);
        await boss.insert(QUEUE, Array.from({ length: n }, () => ({ data: {} })));
      }
      await boss.getQueueStats(QUEUE, { force: true });
    } finally {
      await boss.stop({ graceful: false });
    }
    if (failures.length > 0) throw new Error(`pg-boss reported errors while enqueueing: ${failures[0].message}`);
  },

  /**
   * Starts the workers, on a second instance (whose start reads the counts `prepare` refreshed). Settings,
   * and why (bench/README.md says the same):
   * - `localConcurrency`: the worker count under test; `batchSize` 1: one job per fetch, so every job costs a
   *   fetch and a completion statement, as a Drover unit does.
   * - `pollingIntervalSeconds` 0.5, its minimum, and `burstWhenReadyExceeds` 1: by default a worker waits out
   *   the polling interval after every fetch, even one that found a job (2 jobs/s per worker at the minimum);
   *   burst mode, pg-boss's setting for a backlog, fetches again at once while the queue's cached ready count
   *   is above 1. (`burstWhenBatchFull` is ignored at batch size 1.)
   * - `max` (pool size): max(10, concurrency + 2), like graphile-worker's.
   */
  async start({ connectionString, concurrency, onJob }) {
    const { PgBoss } = await load();
    let errors = 0;
    let retries = 0;
    const boss = new PgBoss({ connectionString, ...COMMON, migrate: false, max: Math.max(10, concurrency + 2) });
    boss.on("error", () => errors++);
    await boss.start();
    const queue = await boss.getQueue(QUEUE);
    if (!(queue?.readyCount > 1)) {
      throw new Error(`pg-boss's cached ready count is ${queue?.readyCount}: its burst mode would not engage`);
    }
    await boss.work(
      QUEUE,
      { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: 0.5, burstWhenReadyExceeds: 1 },
      (jobs) => {
        for (const job of jobs) {
          if (job.retryCount > 0) retries++;
          onJob();
        }
        return Promise.resolve();
      },
    );
    return {
      counters: () => ({ errors, retries }),
      stop: () => boss.stop({ graceful: true, timeout: 2000 }),
    };
  },
};
