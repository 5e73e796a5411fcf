/**
 * The admin endpoint under /_sim/ (same token as the API): an operator or a
 * test in another process changes faults and looks at the state over HTTP.
 * Admin requests are not API requests: they are not counted in the stats,
 * reported as exchanges or subject to faults.
 *
 * | request | body | does |
 * |---|---|---|
 * | POST /_sim/faults | `{latencyMs?, serverErrorRate?, lostReplyRate?}` | sets the standing faults, replies with them |
 * | POST /_sim/fail-next | `{count?=1, status?=503, operationId?}` | `faults.failNext` |
 * | POST /_sim/rate-limit-next | `{count?=1, retryAfterSeconds?=1, operationId?}` | `faults.rateLimitNext` |
 * | POST /_sim/lose-next-reply | `{operationId}` | `faults.loseNextReply` |
 * | POST /_sim/reservations/{id}/take | none | `faults.takeReservation`, replies with the device (201) |
 * | POST /_sim/clear | none | `faults.clear` |
 * | POST /_sim/devices/{id}/agent | a takeover init | starts an agent on the device's machine, replies with its takeover reply (404 no device, 409 machine not running, 422 bad init, 501 no agents here) |
 * | GET /_sim/state | | faults, stats, reservations and devices |
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { ApiError } from "./api_error.ts";
import type { Faults } from "./faults.ts";
import { MachineNotRunningError } from "./errors.ts";
import type { SimulatedMachine, SimulatorOptions } from "./types.ts";
import { checkBody, parseJsonBody } from "./requests.ts";

const FaultSettingsInput = z.object({
  latencyMs: z.number().optional(),
  serverErrorRate: z.number().optional(),
  lostReplyRate: z.number().optional(),
}).strict();
const FailNextInput = z.object({
  count: z.int().default(1),
  status: z.int().default(503),
  operationId: z.string().optional(),
}).strict();
const RateLimitNextInput = z.object({
  count: z.int().default(1),
  retryAfterSeconds: z.int().default(1),
  operationId: z.string().optional(),
}).strict();
const LoseNextReplyInput = z.object({ operationId: z.string() }).strict();

/** What the admin endpoint works on. */
export interface AdminContext {
  token: string;
  faults: Faults;
  /** GET /_sim/state's reply. */
  describeState(): unknown;
  /** Creates someone else's device on a reservation; returns it as the API shows it. @throws {RangeError} */
  takeReservation(reservationId: string): unknown;
  /** The machine behind a device, or undefined. */
  machine(deviceId: string): SimulatedMachine | undefined;
  startAgent?: SimulatorOptions["startAgent"];
}

/** The /_sim routes (mount under "/_sim"). */
export function adminRoutes(context: AdminContext): Hono {
  const admin = new Hono();
  admin.use(async (c, next) => {
    if (c.req.header("X-Auth-Token") !== context.token) {
      return c.json({ errors: ["Invalid or missing X-Auth-Token"] }, 401);
    }
    await next();
  });
  admin.onError((error, c) => {
    // A body that does not parse, and RangeErrors from the fault controller (e.g. an unknown operationId), are the
    // caller's mistake.
    if (error instanceof ApiError) return c.json(error.body(), 422);
    if (error instanceof RangeError) return c.json({ errors: [error.message] }, 422);
    return c.json({ errors: [`Simulator error: ${error.message}`] }, 500);
  });

  admin.post("/faults", async (c) => {
    context.faults.set(parse(FaultSettingsInput, await c.req.text()));
    return c.json(context.faults.settings);
  });
  admin.post("/fail-next", async (c) => {
    const { count, ...options } = parse(FailNextInput, await c.req.text());
    context.faults.failNext(count, options);
    return c.body(null, 204);
  });
  admin.post("/rate-limit-next", async (c) => {
    const { count, retryAfterSeconds, operationId } = parse(RateLimitNextInput, await c.req.text());
    context.faults.rateLimitNext(count, retryAfterSeconds, { operationId });
    return c.body(null, 204);
  });
  admin.post("/lose-next-reply", async (c) => {
    context.faults.loseNextReply(parse(LoseNextReplyInput, await c.req.text()).operationId);
    return c.body(null, 204);
  });
  admin.post("/reservations/:id/take", (c) => c.json(context.takeReservation(c.req.param("id")), 201));
  admin.post("/clear", (c) => {
    context.faults.clear();
    return c.body(null, 204);
  });
  admin.get("/state", (c) => c.json(context.describeState()));
  admin.post("/devices/:id/agent", async (c) => {
    const deviceId = c.req.param("id");
    if (!context.startAgent) {
      return c.json({ errors: ["This simulator runs no agents (deno task sim does)"] }, 501);
    }
    const machine = context.machine(deviceId);
    if (!machine) return c.json({ errors: [`No device ${deviceId}`] }, 404);
    const init = parseJsonBody(await c.req.text());
    try {
      return c.json(await context.startAgent(machine, deviceId, init));
    } catch (error) {
      if (error instanceof MachineNotRunningError) return c.json({ errors: [error.message] }, 409);
      if (error instanceof TypeError || error instanceof RangeError) return c.json({ errors: [error.message] }, 422);
      throw error;
    }
  });
  admin.notFound((c) => c.json({ errors: [`No admin endpoint ${c.req.method} ${c.req.path}`] }, 404));
  return admin;
}

/** The body (empty counts as `{}`) parsed with `schema`. @throws {ApiError} 422 */
function parse<T>(schema: z.ZodType<T>, text: string): T {
  return checkBody(schema, parseJsonBody(text) ?? {});
}
