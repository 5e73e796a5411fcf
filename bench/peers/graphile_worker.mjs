// graphile-worker as a peer (bench/README.md, "Peers"): its own schema on a fresh database, jobs enqueued
// with its addJobs, and its runner with `concurrency` workers, each fetching and completing one job at a time.

// Loaded by name: Node finds it in bench/peers/node_modules, and `deno check bench/`, which walks this file
// too, does not try to resolve it.
const PACKAGE = "graphile-worker";
const TASK = "noop";
/** Jobs per addJobs call while enqueueing. */
const CHUNK = 5000;

/** @returns {Promise<any>} */
async function load() {
  return await import(PACKAGE);
}

/** A logger that drops everything: the default one prints a line per job, CPU the other queues do not spend. */
function silentLogger(Logger) {
  return new Logger(() => () => {});
}

export const graphileWorker = {
  /** Installs graphile-worker's schema and enqueues `jobs` no-op jobs. */
  async prepare({ connectionString, jobs }) {
    const { makeWorkerUtils, Logger } = await load();
    const utils = await makeWorkerUtils({ connectionString, logger: silentLogger(Logger) });
    try {
      await utils.migrate();
      for (let done = 0; done < jobs; done += CHUNK) {
        const n = Math.min(CHUNK, jobs - done);
        await utils.addJobs(Array.from({ length: n }, () => ({ identifier: TASK, payload: {} })));
      }
    } finally {
      await utils.release();
    }
  },

  /**
   * Starts the runner. Settings, and why (bench/README.md says the same):
   * - `concurrency`: the worker count under test; each worker takes one job per fetch (no `localQueue`,
   *   the default), so every job costs a fetch and a completion statement, as a Drover unit does.
   * - `maxPoolSize`: max(10, concurrency + 2), as graphile-worker's documentation recommends.
   * - `pollInterval` 100 ms: a worker only polls after finding no job; the queue never runs dry in the
   *   window, so it only makes the start prompt. Jobs are pre-filled, so LISTEN/NOTIFY is not the path.
   * - `completeJobBatchDelay` left at -1 (the default): each completion is written when its job ends.
   * - prepared statements on (the default).
   */
  async start({ connectionString, concurrency, onJob }) {
    const { run, Logger } = await load();
    let errors = 0;
    let retries = 0;
    const runner = await run({
      connectionString,
      concurrency,
      maxPoolSize: Math.max(10, concurrency + 2),
      pollInterval: 100,
      noHandleSignals: true,
      logger: silentLogger(Logger),
      parsedCronItems: [],
      taskList: {
        [TASK]: (_payload, helpers) => {
          if (helpers.job.attempts > 1) retries++;
          onJob();
          return Promise.resolve();
        },
      },
    });
    for (const event of ["job:error", "worker:getJob:error", "worker:fatalError", "pool:listen:error"]) {
      runner.events.on(event, () => errors++);
    }
    return {
      counters: () => ({ errors, retries }),
      stop: () => runner.stop(),
    };
  },
};
