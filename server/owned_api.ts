/**
 * The admin API's part for machines you own (`/api/v1`, contract in
 * server/API.md): operator power actions through a machine's BMC, clearing
 * a machine's SSH host key recorded on first use, and the inventory view.
 *
 * Every action is admin-only and Origin-checked (`requireAccess`), and is
 * recorded in history with the actor.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Bmdb } from "../bmdb/mod.ts";
import { PowerActionRefusedError, type PowerActions } from "../loops/mod.ts";
import { ApiError } from "./api_error.ts";
import type { AuthVariables } from "./auth.ts";
import type { EventHub } from "./event_hub.ts";
import { parseJsonBody } from "./json_body.ts";

export interface OwnedApiOptions {
  bmdb: Bmdb;
  hub: EventHub;
  /** Operators' power actions; without it, power endpoints answer 422 (no provider has power control). */
  power?: PowerActions;
}

type Env = { Variables: AuthVariables };

const ACTIONS = ["on", "off", "restart"] as const;
const powerSchema = z.strictObject({
  action: z.enum(ACTIONS, { error: `must be one of ${ACTIONS.join(", ")}` }),
});

function refusal(error: unknown): never {
  if (error instanceof PowerActionRefusedError) throw new ApiError(error.status, error.message);
  throw error;
}

function requireAdmin(role: string): void {
  if (role !== "admin") throw new ApiError(403, "only the admin token may act on a machine's power");
}

export function ownedApi(options: OwnedApiOptions): Hono<Env> {
  const { bmdb, hub, power } = options;
  const app = new Hono<Env>();
  const powerOrRefuse = () => {
    if (!power?.available) {
      throw new ApiError(422, "no provider of this Drover has power control (machines you own, with a BMC, have)");
    }
    return power;
  };

  // What an action would send, for the confirmation: reads the machine's BMC.
  app.get("/machines/:id/power", async (c) => {
    requireAdmin(c.get("role"));
    const action = powerSchema.shape.action.safeParse(c.req.query("action"));
    if (!action.success) {
      throw new ApiError(
        400,
        `action: must be one of ${ACTIONS.join(", ")}: current value is ${JSON.stringify(c.req.query("action"))}`,
        "action",
      );
    }
    const machineId = c.req.param("id");
    const description = await powerOrRefuse().describe(machineId, action.data).catch(refusal);
    return c.json({ machineId, action: action.data, description });
  });

  // Starts the action; the dashboard follows it as active work (PowerAction) and then in history.
  app.post("/machines/:id/power", async (c) => {
    const { action } = parseJsonBody(new Uint8Array(await c.req.arrayBuffer()), powerSchema);
    const machineId = c.req.param("id");
    const accepted = await powerOrRefuse().request({ machineId, action, actor: c.get("actor") }).catch(refusal);
    return c.json({ machineId: accepted.machineId, action: accepted.action }, 202);
  });

  app.delete("/machines/:id/ssh-host-key", async (c) => {
    const machineId = c.req.param("id");
    const cleared = await bmdb.clearSshHostKey({ machineId, actor: c.get("actor") });
    return c.json({ machineId, cleared });
  });

  // The inventory file's machines per location beside the BMDB's: in the BMDB, not in the inventory, without a BMC.
  app.get("/inventory", async (c) => {
    const status = hub.snapshot().inventory ?? null;
    const recorded = await bmdb.read((q) => q.inventoryLocations());
    return c.json({ status, recorded });
  });

  return app;
}
