/**
 * The control endpoint of `deno task bmc-sim --control-port P`, for a
 * benchmark or test in another process: `GET /_sim/stats` (the fleet's
 * stats as JSON) and `POST /_sim/faults` (a {@link BmcFaults} JSON object
 * set on every BMC; a field given as null clears it, a field left out is
 * kept). On 127.0.0.1, without authentication.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { BmcFaults } from "./faults.ts";
import type { BmcFleet } from "./fleet.ts";

const LatencySchema = z.union([
  z.number().min(0),
  z.strictObject({ min: z.number().min(0), max: z.number().min(0) }).refine((l) => l.min <= l.max, {
    message: "min must be <= max",
  }),
]);

/** The body of `POST /_sim/faults`. */
const FaultsBodySchema = z.strictObject({
  latencyMs: LatencySchema.nullable().optional(),
  errorRate: z.number().min(0).max(1).nullable().optional(),
  unavailable: z.strictObject({ count: z.int().min(0), retryAfterSeconds: z.int().min(0) }).nullable().optional(),
  loseReplies: z.int().min(0).nullable().optional(),
  hang: z.int().min(0).nullable().optional(),
});

/** A running control endpoint. */
export interface ControlServer extends AsyncDisposable {
  /** e.g. "http://127.0.0.1:9100". */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the control endpoint for `fleet` on 127.0.0.1:`port`.
 * @throws the listen error when the port cannot be had
 */
export function startControlServer(fleet: BmcFleet, port: number): ControlServer {
  const app = new Hono();
  app.get("/_sim/stats", (c) => c.json(fleet.stats()));
  app.post("/_sim/faults", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json({ error: "the body must be a JSON object" }, 400);
    }
    const parsed = FaultsBodySchema.safeParse(body);
    if (!parsed.success) return c.json({ error: z.prettifyError(parsed.error) }, 400);
    for (const bmc of fleet.bmcs) applyFaults(bmc.faults, parsed.data);
    return c.json({ bmcs: fleet.bmcs.length, faults: fleet.bmcs[0]?.faults ?? {} });
  });
  app.notFound((c) => c.json({ error: "not found: GET /_sim/stats, POST /_sim/faults" }, 404));
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, app.fetch);
  let closed: Promise<void> | undefined;
  const close = () => closed ??= server.shutdown();
  return { url: `http://127.0.0.1:${server.addr.port}`, close, [Symbol.asyncDispose]: close };
}

/** Sets each field given (a copy per BMC: counts go down per BMC); null clears it. */
function applyFaults(faults: BmcFaults, changes: z.infer<typeof FaultsBodySchema>): void {
  for (const key of ["latencyMs", "errorRate", "unavailable", "loseReplies", "hang"] as const) {
    const value = changes[key];
    if (value === undefined) continue;
    if (value === null) delete faults[key];
    else Object.assign(faults, { [key]: structuredClone(value) });
  }
}
