/**
 * The event stream's clients for the SSE fan-out figure (issue 7), in a
 * process of their own so that reading the streams takes none of the
 * server's CPU (bench/sse_fanout.ts spawns it).
 *
 * ```sh
 * deno run --allow-net --allow-read bench/sse_clients.ts plan.json
 * ```
 *
 * `plan.json` is an {@linkcode SseClientsPlan}. Each client holds one
 * `GET /api/v1/events` stream and follows whether `machineId` holds active
 * work (the `work` events, and the `snapshot` each stream starts with). The
 * parent alternately claims and releases that machine's work, so each client
 * sees the k-th update as the k-th change of that state; it notes the time
 * (`Date.now()`, the wall clock both processes read) of each change.
 *
 * On stdout, one JSON object per line: `{"ready":true,"connectMs":…}` once
 * every client has its snapshot; `{"update":k,"arrivals":[…]}` (one time per
 * client) once every client has seen update k; `{"done":true,"cpuMs":…}`
 * after the last update, then it exits. A stream that fails or ends prints
 * `{"error":"…"}` and exits 1.
 *
 * @module
 */
import process from "node:process";

export interface SseClientsPlan {
  /** The server's base URL. */
  url: string;
  token: string;
  clients: number;
  /** The machine whose work the parent claims and releases. */
  machineId: string;
  /** Updates to wait for before exiting. */
  updates: number;
}

/** The lines this process prints. */
export type SseClientsMessage =
  | { ready: true; connectMs: number }
  | { update: number; arrivals: number[] }
  | { done: true; cpuMs: number }
  | { error: string };

interface WorkList {
  rows: { machineId: string }[];
}

function print(message: SseClientsMessage): void {
  console.log(JSON.stringify(message));
}

/** Follows one stream; calls `onHeld` with the machine's state from every snapshot and work event. */
async function follow(
  plan: SseClientsPlan,
  signal: AbortSignal,
  onHeld: (held: boolean) => void,
): Promise<void> {
  const response = await fetch(`${plan.url}/api/v1/events`, {
    headers: { accept: "text/event-stream", authorization: `Bearer ${plan.token}` },
    signal,
  });
  if (response.status !== 200 || !response.body) {
    throw new Error(`GET /api/v1/events: ${response.status} ${await response.text()}`);
  }
  const held = (list: WorkList) => list.rows.some((r) => r.machineId === plan.machineId);
  let buffer = "";
  for await (const chunk of response.body.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event: string | undefined;
      let data = "";
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).replace(/^ /, "");
      }
      // Only the events that carry active work are parsed: the others (counts, sessions, ...) are skipped unread.
      if (event === "snapshot") onHeld(held((JSON.parse(data) as { work: WorkList }).work));
      else if (event === "work") onHeld(held(JSON.parse(data) as WorkList));
    }
  }
  if (!signal.aborted) throw new Error("the event stream ended");
}

/** Runs the clients as the plan says, printing as the module doc describes. */
export async function runSseClients(plan: SseClientsPlan): Promise<void> {
  const startedAt = performance.now();
  const stop = new AbortController();
  const state: (boolean | undefined)[] = Array(plan.clients).fill(undefined);
  const arrivals: number[][] = Array.from({ length: plan.updates }, () => []);
  const seen = Array(plan.updates).fill(0);
  const changes = Array(plan.clients).fill(0);
  let connected = 0;
  const finished = Promise.withResolvers<void>();

  const onHeld = (client: number) => (held: boolean) => {
    const at = Date.now();
    if (state[client] === undefined) {
      state[client] = held;
      if (++connected === plan.clients) print({ ready: true, connectMs: performance.now() - startedAt });
      return;
    }
    if (held === state[client]) return;
    state[client] = held;
    const k = changes[client]++;
    if (k >= plan.updates) return;
    arrivals[k][client] = at;
    if (++seen[k] === plan.clients) {
      print({ update: k, arrivals: arrivals[k] });
      if (k === plan.updates - 1) finished.resolve();
    }
  };

  const streams = Array.from({ length: plan.clients }, (_, i) =>
    follow(plan, stop.signal, onHeld(i)).catch((error) => {
      if (!stop.signal.aborted) finished.reject(error);
    }));
  try {
    await finished.promise;
    const { user, system } = process.cpuUsage();
    print({ done: true, cpuMs: (user + system) / 1000 });
  } finally {
    stop.abort();
    await Promise.all(streams);
  }
}

if (import.meta.main) {
  const [planPath] = Deno.args;
  if (!planPath) {
    console.error("usage: deno run --allow-net --allow-read bench/sse_clients.ts <plan.json>");
    Deno.exit(2);
  }
  const plan = JSON.parse(await Deno.readTextFile(planPath)) as SseClientsPlan;
  try {
    await runSseClients(plan);
  } catch (error) {
    print({ error: error instanceof Error ? error.message : String(error) });
    Deno.exit(1);
  }
}
