/**
 * The agent API's load generator: signed heartbeats, as agents send them,
 * from a process of its own so that making the load does not take the
 * server's CPU (bench/agent_api.ts spawns it).
 *
 * ```sh
 * deno run --allow-net --allow-read bench/heartbeat_load.ts plan.json
 * ```
 *
 * `plan.json` is a {@linkcode HeartbeatLoadPlan}. `concurrency` loops each
 * own a share of the machines and send one heartbeat at a time, so a
 * machine's requests never overtake each other and its `sentAt` strictly
 * increases (the server refuses anything else with 409). After
 * `warmupSeconds` (unmeasured: connections open, the server caches the keys)
 * it prints `{"measuring":true}`, then after `seconds` one line of JSON, a
 * {@linkcode HeartbeatLoadResult}. A status other than 204 is counted, never
 * retried.
 *
 * @module
 */
import process from "node:process";
import { AGENT_API_PREFIX, AgentEndpoint, fromBase64, SIGNATURE_HEADER, signRequest } from "../agent/mod.ts";

export interface HeartbeatLoadPlan {
  /** The server's base URL (the agent API is under it). */
  url: string;
  /** Each machine's id and its agent's ed25519 private key, base64 PKCS#8. */
  machines: { machineId: string; privateKey: string }[];
  concurrency: number;
  warmupSeconds: number;
  seconds: number;
}

export interface HeartbeatLoadResult {
  /** The measured window. */
  seconds: number;
  /** Requests sent in the window (and answered, perhaps just after it). */
  sent: number;
  /** Answered 204. */
  accepted: number;
  /** Answers by HTTP status, "network" for a request that got none. */
  byStatus: Record<string, number>;
  /** Request to answer (signing not included), milliseconds. */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** This process's CPU time (user + system) over the window, milliseconds. */
  cpuMs: number;
}

const encoder = new TextEncoder();

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

async function importKey(base64: string): Promise<CryptoKey> {
  const pkcs8 = fromBase64(base64);
  if (pkcs8 === undefined) throw new TypeError("privateKey must be base64 PKCS#8");
  return await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]);
}

/** Sends heartbeats as the plan says; `onMeasuring` is called when the measured window opens. */
export async function runHeartbeatLoad(
  plan: HeartbeatLoadPlan,
  onMeasuring: () => void = () => {},
): Promise<HeartbeatLoadResult> {
  const path = AGENT_API_PREFIX + AgentEndpoint.Heartbeat;
  const target = plan.url.replace(/\/+$/, "") + path;
  const machines = await Promise.all(
    plan.machines.map(async (m) => ({ machineId: m.machineId, key: await importKey(m.privateKey), lastSentAtMs: 0 })),
  );
  const started = performance.now();
  const measureFrom = started + plan.warmupSeconds * 1000;
  const stopAt = measureFrom + plan.seconds * 1000;
  let measuring = false;
  let cpuAtStart = 0;
  const cpuMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  const latencies: number[] = [];
  const byStatus: Record<string, number> = {};

  const loop = async (first: number) => {
    for (let i = first;; i += plan.concurrency) {
      if (i >= machines.length) i = first;
      const machine = machines[i];
      machine.lastSentAtMs = Math.max(Date.now(), machine.lastSentAtMs + 1);
      const body = encoder.encode(
        JSON.stringify({ machineId: machine.machineId, sentAt: new Date(machine.lastSentAtMs).toISOString() }),
      );
      const signature = await signRequest(machine.key, path, body);
      const sentAt = performance.now();
      if (sentAt >= stopAt) return;
      if (!measuring && sentAt >= measureFrom) {
        measuring = true;
        cpuAtStart = cpuMs();
        onMeasuring();
      }
      let status: string;
      try {
        const response = await fetch(target, {
          method: "POST",
          headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature },
          body,
        });
        await response.arrayBuffer();
        status = String(response.status);
      } catch {
        status = "network";
      }
      const answeredAt = performance.now();
      // A request counts in the window it was sent in; one answered after the window closed still counts.
      if (sentAt >= measureFrom) {
        latencies.push(answeredAt - sentAt);
        byStatus[status] = (byStatus[status] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(plan.concurrency, machines.length) }, (_, w) => loop(w)));
  const cpuUsed = cpuMs() - cpuAtStart;
  const sorted = Float64Array.from(latencies).sort();
  return {
    seconds: plan.seconds,
    sent: latencies.length,
    accepted: byStatus["204"] ?? 0,
    byStatus,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.length > 0 ? sorted[sorted.length - 1] : NaN,
    cpuMs: cpuUsed,
  };
}

if (import.meta.main) {
  const [planPath] = Deno.args;
  if (!planPath) {
    console.error("usage: deno run --allow-net --allow-read bench/heartbeat_load.ts <plan.json>");
    Deno.exit(2);
  }
  const plan = JSON.parse(await Deno.readTextFile(planPath)) as HeartbeatLoadPlan;
  const result = await runHeartbeatLoad(plan, () => console.log(JSON.stringify({ measuring: true })));
  console.log(JSON.stringify(result));
}
