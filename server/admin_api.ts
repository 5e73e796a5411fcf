/**
 * The admin API (`/api/v1`, contract in server/API.md): reads of the fleet
 * and the operator's actions (cancel work, retry machines, singly or in
 * bulk), and the live event stream. Input is validated (zod for bodies, the
 * BMDB's own checks for ids and filters); a refusal is `{ error, field? }`
 * with its status, and changes nothing.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  type Bmdb,
  type MachineFilter,
  MachineNotFoundError,
  OPERATOR_PROCESSES,
  type Process,
  PROCESS_DESCRIPTIONS,
  type RecoveryTimeouts,
  WorkNotFoundError,
} from "../bmdb/mod.ts";
import { ApiError } from "./api_error.ts";
import type { AuthVariables } from "./auth.ts";
import type { EventHub } from "./event_hub.ts";
import { machineTimeline } from "./timeline.ts";
import { parseJsonBody } from "./json_body.ts";

export interface AdminApiOptions {
  bmdb: Bmdb;
  hub: EventHub;
  /** The same timeouts the recoverer runs with, so "why idle" answers as it would. */
  recoveryTimeouts?: RecoveryTimeouts;
  /** Items one bulk call may act on. @default 1000 */
  bulkLimit?: number;
  /** How long the per-minute rates are reused. @default 10000 */
  ratesCacheMs?: number;
  /** Set when the embedded demo fleet runs: what it does (the Overview says so). */
  demo?: string;
}

type Env = { Variables: AuthVariables };

const FILTER_KEYS = ["q", "tag", "provider", "process", "providerStatus", "inBackoff", "hasWork"] as const;

/** A machine filter from query parameters (strings), checked by the BMDB when used. */
function filterFromQuery(query: Record<string, string>): MachineFilter {
  const filter: Record<string, unknown> = {};
  for (const key of FILTER_KEYS) {
    const value = query[key];
    if (value === undefined || value === "") continue;
    if (key === "process" && !(OPERATOR_PROCESSES as readonly string[]).includes(value)) {
      throw new ApiError(
        400,
        `process: must be one of ${OPERATOR_PROCESSES.join(", ")}: current value is ${JSON.stringify(value)}`,
        key,
      );
    }
    if (key === "inBackoff" || key === "hasWork") {
      if (value !== "true" && value !== "false") {
        throw new ApiError(400, `${key}: must be true or false: current value is ${JSON.stringify(value)}`, key);
      }
      filter[key] = value === "true";
    } else filter[key] = value;
  }
  return filter as MachineFilter;
}

// Operators are offered Drover's processes only: the BMDB's test-only ones are not theirs to act on.
const processSchema = z.enum(OPERATOR_PROCESSES, {
  error: `must be one of ${OPERATOR_PROCESSES.join(", ")}`,
});
const filterSchema = z.strictObject({
  q: z.string().optional(),
  tag: z.string().optional(),
  provider: z.string().optional(),
  process: z.string().optional(),
  providerStatus: z.string().optional(),
  inBackoff: z.boolean().optional(),
  hasWork: z.boolean().optional(),
});
const cancelSchema = z.strictObject({ machineId: z.string(), process: processSchema });
const retrySchema = z.strictObject({ process: processSchema.optional() });
const bulkFields = { dryRun: z.boolean().optional(), expectedCount: z.int().min(0).optional() };
const bulkCancelSchema = z.strictObject({
  selection: z.array(cancelSchema).min(1).optional(),
  filter: filterSchema.extend({ process: processSchema }).optional(),
  ...bulkFields,
});
const bulkRetrySchema = z.strictObject({
  selection: z.array(z.string()).min(1).optional(),
  filter: filterSchema.optional(),
  process: processSchema.optional(),
  ...bulkFields,
});

async function body<S extends z.ZodType>(request: Request, schema: S): Promise<z.infer<S>> {
  return parseJsonBody(new Uint8Array(await request.arrayBuffer()), schema);
}

/** Exactly one of selection and filter. */
function oneOf(selection: unknown, filter: unknown): void {
  if ((selection === undefined) === (filter === undefined)) {
    throw new ApiError(
      400,
      "give exactly one of selection and filter",
      selection === undefined ? "selection" : "filter",
    );
  }
}

/** Up to `max` machines `filter` selects, page by page. */
async function collectMachines(bmdb: Bmdb, filter: MachineFilter, max: number): Promise<string[]> {
  const ids: string[] = [];
  let after: string | undefined;
  while (ids.length < max) {
    const limit = Math.min(1000, max - ids.length);
    const rows = await bmdb.read((q) => q.listMachines({ ...filter, after, limit }));
    ids.push(...rows.map((m) => m.machineId));
    if (rows.length < limit) break;
    after = rows.at(-1)!.machineId;
  }
  return ids;
}

export function adminApi(options: AdminApiOptions): Hono<Env> {
  const { bmdb, hub } = options;
  const bulkLimit = options.bulkLimit ?? 1000;
  const ratesCacheMs = options.ratesCacheMs ?? 10_000;
  let rates: { at: number; value: Promise<unknown> } | undefined;
  const app = new Hono<Env>();

  /** Checks a bulk call's count: dry run answers it; applying needs it echoed and within the cap. */
  const bulkGate = (count: number, b: { dryRun?: boolean; expectedCount?: number }) => {
    if (b.dryRun) return { count };
    if (count > bulkLimit) {
      throw new ApiError(422, `the selection holds ${count} items; at most ${bulkLimit} per call`, "selection");
    }
    if (b.expectedCount === undefined) {
      throw new ApiError(400, "expectedCount: required to apply (run with dryRun first)", "expectedCount");
    }
    if (b.expectedCount !== count) {
      throw new ApiError(
        409,
        `count mismatch: expected ${b.expectedCount}, the selection now holds ${count}`,
        "expectedCount",
      );
    }
    return undefined;
  };

  app.get("/whoami", (c) => c.json({ role: c.get("role") }));

  // Which processes exist (work, backoffs and history name them), and what each is.
  app.get(
    "/processes",
    (c) => c.json({ processes: OPERATOR_PROCESSES.map((name) => ({ name, description: PROCESS_DESCRIPTIONS[name] })) }),
  );

  app.get("/overview", async (c) => {
    if (!rates || performance.now() - rates.at > ratesCacheMs) {
      rates = { at: performance.now(), value: bmdb.read((q) => q.historyRates({ minutes: 60 })) };
      rates.value.catch(() => rates = undefined);
    }
    const [counts, r] = await Promise.all([bmdb.read((q) => q.getCounts()), rates.value]);
    return c.json({
      serverTime: new Date().toISOString(),
      counts,
      provisioner: hub.snapshot().provisioner ?? null,
      rates: r,
      demo: options.demo ?? null,
    });
  });

  app.get("/sessions", async (c) => c.json(await bmdb.read((q) => q.listLiveSessions({ limit: 1000 }))));
  app.get("/work", async (c) => c.json(await bmdb.read((q) => q.listWork({ limit: 1000 }))));
  app.get("/backoffs", async (c) => c.json(await bmdb.read((q) => q.listBackoffs({ limit: 1000 }))));

  app.get("/machines", async (c) => {
    const query = c.req.query();
    const limit = query.limit === undefined ? 50 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new ApiError(
        400,
        `limit: must be an integer in 1..500: current value is ${JSON.stringify(query.limit)}`,
        "limit",
      );
    }
    // One more than asked: `next` only when there is a next page.
    const rows = await bmdb.read((q) =>
      q.listMachines({ ...filterFromQuery(query), after: query.after || undefined, limit: limit + 1 })
    );
    const more = rows.length > limit;
    return c.json({ rows: rows.slice(0, limit), next: more ? rows[limit - 1].machineId : null });
  });

  app.get("/machines/:id", async (c) => {
    const machineId = c.req.param("id");
    const { machine, whyIdle, history } = await bmdb.read(async (q) => ({
      machine: await q.getMachine({ machineId }),
      whyIdle: await q.whyIdle({ machineId, ...options.recoveryTimeouts }),
      history: await q.listHistoryOf({ machineId }),
    }));
    if (machine === null) throw new ApiError(404, `machine ${machineId} is not known`);
    return c.json({ machine, whyIdle, timeline: machineTimeline(machine, history) });
  });

  app.get("/reservations", (c) => c.json({ rows: hub.snapshot().reservations ?? [] }));

  app.get("/events", (c) => {
    const stream = hub.stream(c.req.header("last-event-id"));
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        "x-accel-buffering": "no",
      },
    });
  });

  app.post("/work/cancel", async (c) => {
    const { machineId, process } = await body(c.req.raw, cancelSchema);
    await bmdb.requestWorkCancel({ machineId, process, actor: c.get("actor") });
    return c.json({ machineId, process }, 202);
  });

  app.post("/machines/:id/retry", async (c) => {
    const machineId = c.req.param("id");
    const { process } = await body(c.req.raw, retrySchema);
    const backoffsCleared = await bmdb.retryMachine({ machineId, process, actor: c.get("actor") });
    return c.json({ machineId, backoffsCleared });
  });

  app.post("/work/cancel/bulk", async (c) => {
    const b = await body(c.req.raw, bulkCancelSchema);
    oneOf(b.selection, b.filter);
    let items: { machineId: string; process: Process }[];
    if (b.selection) {
      items = [...new Map(b.selection.map((s) => [`${s.machineId}|${s.process}`, s])).values()];
    } else {
      const { process, ...filter } = b.filter!;
      const ids = await collectMachines(bmdb, { ...(filter as MachineFilter), process, hasWork: true }, bulkLimit + 1);
      items = ids.map((machineId) => ({ machineId, process }));
    }
    const gate = bulkGate(items.length, b);
    if (gate) return c.json(gate);
    let canceled = 0;
    for (const item of items) {
      try {
        await bmdb.requestWorkCancel({ ...item, actor: c.get("actor") });
        canceled++;
      } catch (error) {
        if (!(error instanceof WorkNotFoundError || error instanceof MachineNotFoundError)) throw error;
      }
    }
    return c.json({ count: items.length, canceled });
  });

  app.post("/machines/retry/bulk", async (c) => {
    const b = await body(c.req.raw, bulkRetrySchema);
    oneOf(b.selection, b.filter);
    let machineIds: string[];
    if (b.selection) machineIds = [...new Set(b.selection)];
    else machineIds = await collectMachines(bmdb, b.filter as MachineFilter, bulkLimit + 1);
    const gate = bulkGate(machineIds.length, b);
    if (gate) return c.json(gate);
    let backoffsCleared = 0;
    for (const machineId of machineIds) {
      try {
        backoffsCleared += await bmdb.retryMachine({ machineId, process: b.process, actor: c.get("actor") });
      } catch (error) {
        if (!(error instanceof MachineNotFoundError)) throw error;
      }
    }
    return c.json({ count: machineIds.length, backoffsCleared });
  });

  return app;
}
