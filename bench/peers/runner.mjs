// One measured run of a peer job queue, under Node: `node runner.mjs '<plan JSON>'`.
//
// The plan: { peer: "graphile-worker" | "pg-boss", connectionString, concurrency, jobs, warmupSeconds, seconds }.
// On its own fresh database, the peer installs its schema and enqueues `jobs` no-op jobs; then its workers
// (`concurrency` of them, one job at a time each) run for `warmupSeconds` unmeasured and `seconds` measured.
// Prints one JSON object per line on stdout: {"event":"window-start"} and {"event":"window-end"} as the
// measured window opens and closes (the bench reads CPU time from /proc then), and last
// {"event":"result", ...}. Anything wrong goes to stderr with a non-zero exit.
//
// Run by bench/peers/peer_queues.ts; see bench/README.md, "Peers".
import { graphileWorker } from "./graphile_worker.mjs";
import { pgBoss } from "./pg_boss.mjs";

const ADAPTERS = { "graphile-worker": graphileWorker, "pg-boss": pgBoss };

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {object} line */
function emit(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

async function main() {
  const plan = JSON.parse(process.argv[2] ?? "{}");
  const adapter = ADAPTERS[plan.peer];
  if (!adapter) {
    throw new Error(`Unknown peer ${JSON.stringify(plan.peer)}: one of ${Object.keys(ADAPTERS).join(", ")}`);
  }

  const prepareStarted = performance.now();
  await adapter.prepare({ connectionString: plan.connectionString, jobs: plan.jobs });
  const prepareMs = performance.now() - prepareStarted;

  let handled = 0;
  const workers = await adapter.start({
    connectionString: plan.connectionString,
    concurrency: plan.concurrency,
    onJob: () => handled++,
  });
  await sleep(plan.warmupSeconds * 1000);
  const handledBefore = handled;
  const windowStarted = performance.now();
  emit({ event: "window-start" });
  await sleep(plan.seconds * 1000);
  const handledAfter = handled;
  const windowMs = performance.now() - windowStarted;
  emit({ event: "window-end" });
  const counters = workers.counters();
  // Workers that go on pulling from a queue that is not empty still show it: the rate is the peer's own.
  const queueRanDry = handledAfter + plan.concurrency >= plan.jobs;
  await Promise.race([workers.stop(), sleep(5000)]);
  emit({
    event: "result",
    jobsPerSecond: ((handledAfter - handledBefore) * 1000) / windowMs,
    jobsInWindow: handledAfter - handledBefore,
    windowSeconds: windowMs / 1000,
    prepareSeconds: prepareMs / 1000,
    queueRanDry,
    errors: counters.errors,
    retries: counters.retries,
    node: process.version,
  });
}

try {
  await main();
  process.exit(0);
} catch (error) {
  console.error(error instanceof Error ? error.stack ?? error.message : String(error));
  process.exit(1);
}
