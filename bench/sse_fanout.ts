/**
 * Issue 7: one update reaching many dashboards. `clients` event streams
 * (`GET /api/v1/events`, held by bench/sse_clients.ts in a child process) on
 * one server process, whose one change-feed watcher feeds them all; this
 * process claims and releases one machine's work through the BMDB, one update
 * at a time, and each client notes when the `work` event showing it arrived.
 *
 * Per update and client: the delay from the commit (the moment the claim or
 * release call returned here) to the event's arrival there, both read on the
 * wall clock (`Date.now()`, ms). The next update waits until every client
 * has the last one, then a random 150-450 ms, so updates never coalesce and
 * land at varied moments of the feed's refresh window.
 *
 * @module
 */
import { lines } from "./text_lines.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { openBmdb, Process, type Work } from "../bmdb/mod.ts";
import { quietLogger } from "../tests/harness/quiet_logger.ts";
import { within } from "../tests/harness/wait.ts";
import { percentile } from "./percentile.ts";
import type { SseClientsMessage, SseClientsPlan } from "./sse_clients.ts";

export interface SseFanoutOptions {
  clients: number;
  /** Claims and releases, alternately (an even number ends with the machine released). */
  updates: number;
  /** The machine whose work is claimed and released (no one else may hold it). */
  machineId: string;
}

export interface SseFanoutResult {
  clients: number;
  updates: number;
  /** Until every client had its stream's snapshot. */
  connectMs: number;
  /** Commit to arrival, over every client and update. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The slowest client's delay, per update: the median and the worst over the updates. */
  lastClientMedianMs: number;
  lastClientMaxMs: number;
  /** The client process's CPU time over its life (connecting and reading every stream). */
  clientsCpuMs: number;
}

const UPDATE_TIMEOUT_MS = 15_000;

/** Reads the child's stdout as messages. */
async function* messages(stream: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<SseClientsMessage> {
  for await (const line of lines(stream)) yield JSON.parse(line) as SseClientsMessage;
}

/** Runs the clients against the server at `baseUrl` (over `databaseUrl`) and makes the updates. */
export async function measureSseFanout(
  baseUrl: string,
  token: string,
  databaseUrl: string,
  options: SseFanoutOptions,
): Promise<SseFanoutResult> {
  const plan: SseClientsPlan = {
    url: baseUrl,
    token,
    clients: options.clients,
    machineId: options.machineId,
    updates: options.updates,
  };
  const bmdb = await openBmdb({ component: "bench-sse", databaseUrl, poolSize: 2, logger: quietLogger });
  let planPath: string | undefined;
  let child: Deno.ChildProcess | undefined;
  let lines: AsyncGenerator<SseClientsMessage> | undefined;
  try {
    planPath = await Deno.makeTempFile({ prefix: "drover-sse-clients-", suffix: ".json" });
    await Deno.writeTextFile(planPath, JSON.stringify(plan));
    const session = await bmdb.startSession({ intervalSeconds: 30 });
    child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-read", new URL("./sse_clients.ts", import.meta.url).pathname, planPath],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const read = lines = messages(child.stdout);
    const next = async (what: string, timeoutMs: number): Promise<SseClientsMessage> => {
      const { value, done } = await within(read.next(), timeoutMs, what);
      if (done) throw new Error(`the SSE clients' process ended before ${what}`);
      if ("error" in value) throw new Error(`SSE clients: ${value.error}`);
      return value;
    };

    const ready = await next(`${options.clients} event streams connected`, 60_000);
    if (!("ready" in ready)) throw new Error(`SSE clients: expected ready, got ${JSON.stringify(ready)}`);
    const delays: number[] = [];
    const lastClient: number[] = [];
    let work: Work | undefined;
    for (let k = 0; k < options.updates; k++) {
      if (work === undefined) {
        work = await session.work(Process.ShepherdAgentStart, () => Promise.resolve([options.machineId]));
      } else {
        await work.cancel();
        work = undefined;
      }
      const committedAt = Date.now();
      const message = await next(`update ${k} reaching every client`, UPDATE_TIMEOUT_MS);
      if (!("update" in message) || message.update !== k) {
        throw new Error(`SSE clients: expected update ${k}, got ${JSON.stringify(message)}`);
      }
      const ms = message.arrivals.map((at) => at - committedAt);
      delays.push(...ms);
      lastClient.push(Math.max(...ms));
      await sleep(150 + Math.random() * 300);
    }
    await work?.cancel();
    const done = await next("the clients' end", 30_000);
    if (!("done" in done)) throw new Error(`SSE clients: expected done, got ${JSON.stringify(done)}`);
    await session.close();
    return {
      clients: options.clients,
      updates: options.updates,
      connectMs: ready.connectMs,
      p50Ms: percentile(delays, 50),
      p99Ms: percentile(delays, 99),
      maxMs: Math.max(...delays),
      lastClientMedianMs: percentile(lastClient, 50),
      lastClientMaxMs: Math.max(...lastClient),
      clientsCpuMs: done.cpuMs,
    };
  } finally {
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch {
        // exited
      }
      await child.status;
      // Ends the reading (the process is gone, so a pending read ends too) and frees the pipe.
      if (lines) await lines.return(undefined).catch(() => {});
      else await child.stdout.cancel().catch(() => {});
    }
    await bmdb.close();
    if (planPath) await Deno.remove(planPath).catch(() => {});
  }
}
