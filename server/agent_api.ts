/**
 * The agent API (`/agent/v1`): heartbeats and the hardware report, each a
 * JSON body signed with the key the agent made at takeover.
 *
 * A request is accepted only when, in this order: the body is at most
 * `maxBodyBytes` (413) and is a valid request (400, naming the field); the
 * machine exists and has an agent recorded (404); the signature verifies
 * with that agent's key (401); `sentAt` is within `maxClockSkewSeconds` of
 * this server's clock (422); and `sentAt` is later than the machine's last
 * accepted request (409: a replay, or a request overtaken by a later one).
 * Anything refused changes nothing. Accepted: 204.
 *
 * Keys are cached (they change only when the machine is recovered; a
 * signature that fails with a cached key is checked again with a fresh one),
 * and concurrent requests share database statements, so the hot path is one
 * signature check and a share of one statement.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { Counter, type Registry } from "prom-client";
import type { AgentReportOutcome, Bmdb, Logger } from "../bmdb/mod.ts";
import { AGENT_API_PREFIX, AgentEndpoint, importPublicKey, SIGNATURE_HEADER, verifyWithKey } from "../agent/mod.ts";
import { hardwareReportRequestSchema, heartbeatRequestSchema } from "./agent_schemas.ts";
import { AgentKeyCache } from "./agent_key_cache.ts";
import { parseJsonBody } from "./json_body.ts";
import { answerError, ApiError } from "./api_error.ts";

export interface AgentApiOptions {
  bmdb: Bmdb;
  logger: Logger;
  registry: Registry;
  /** How far an agent's `sentAt` may be from this server's clock. @default 60 */
  maxClockSkewSeconds?: number;
  /** @default 262144 (256 KiB) */
  maxBodyBytes?: number;
  /** Agent keys kept in memory. @default 100000 */
  keyCacheSize?: number;
  /** This server's clock (tests move it). @default Date.now */
  now?: () => number;
}

const OUTCOME_REFUSAL: Record<Exclude<AgentReportOutcome, "accepted">, (machineId: string) => ApiError> = {
  noMachine: (id) => new ApiError(404, `machine ${id} is not known`),
  noAgent: (id) => new ApiError(404, `no agent is recorded for machine ${id}`),
  keyMismatch: (id) => new ApiError(401, `the agent key recorded for machine ${id} is not the one that signed`),
  notNewer: () => new ApiError(409, "replayed request: sentAt is not later than the machine's last accepted request"),
};

/** The agent API as a Hono app; mount it at {@linkcode AGENT_API_PREFIX}. */
export function agentApi(options: AgentApiOptions): Hono {
  const { bmdb, logger } = options;
  const maxSkewMs = (options.maxClockSkewSeconds ?? 60) * 1000;
  const maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
  const now = options.now ?? Date.now;
  const keys = new AgentKeyCache(options.keyCacheSize ?? 100_000, async (machineId) => {
    const { machineFound, agent } = await bmdb.read((q) => q.getAgentStarted({ machineId }));
    if (!machineFound) return OUTCOME_REFUSAL.noMachine(machineId);
    if (agent === null) return OUTCOME_REFUSAL.noAgent(machineId);
    const key = await importPublicKey(agent.agentPublicKey);
    if (key === undefined) return new ApiError(401, `the agent key recorded for machine ${machineId} is not ed25519`);
    return { raw: agent.agentPublicKey, key };
  });
  const requests = new Counter({
    name: "drover_agent_requests_total",
    help: "Agent API requests by endpoint and HTTP status",
    labelNames: ["endpoint", "status"] as const,
    registers: [options.registry],
  });

  /** `read` parses and checks the body: the machine, the agent's time, and a hardware report to store, if any. */
  const handle = (
    endpoint: string,
    read: (bytes: Uint8Array) => { machineId: string; sentAt: string; report?: Uint8Array },
  ) =>
  async (c: Context) => {
    const path = AGENT_API_PREFIX + endpoint;
    let status = 204;
    try {
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      const body = read(bytes);
      const signature = c.req.header(SIGNATURE_HEADER);
      if (!signature) throw new ApiError(401, `missing ${SIGNATURE_HEADER} header`);
      const agent = await keys.verify(body.machineId, (key) => verifyWithKey(key, path, bytes, signature));
      if (agent === undefined) {
        throw new ApiError(401, `signature does not verify with the agent key recorded for machine ${body.machineId}`);
      }
      const sentAt = new Date(body.sentAt);
      const skewMs = sentAt.getTime() - now();
      if (Math.abs(skewMs) > maxSkewMs) {
        throw new ApiError(
          422,
          `sentAt ${body.sentAt} is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs > 0 ? "ahead of" : "behind"} ` +
            `the server's clock; at most ${maxSkewMs / 1000} s is allowed`,
          "sentAt",
        );
      }
      const outcome = await bmdb.recordAgentReport({
        machineId: body.machineId,
        agentPublicKey: agent.raw,
        sentAt,
        hardwareReportRaw: body.report,
      });
      if (outcome !== "accepted") {
        if (outcome === "keyMismatch" || outcome === "noAgent" || outcome === "noMachine") keys.forget(body.machineId);
        throw OUTCOME_REFUSAL[outcome](body.machineId);
      }
      return c.body(null, 204);
    } catch (error) {
      const refusal = answerError(error, c);
      if (refusal) {
        status = refusal.status;
        return refusal;
      }
      status = 500;
      logger.error("agent API request failed", { endpoint, error });
      return c.json({ error: "internal error; the request was not recorded" }, 500);
    } finally {
      requests.inc({ endpoint, status: String(status) });
    }
  };

  const encoder = new TextEncoder();
  const app = new Hono();
  app.use(bodyLimit({
    maxSize: maxBodyBytes,
    onError: (c) => {
      requests.inc({ endpoint: c.req.path.slice(AGENT_API_PREFIX.length), status: "413" });
      return c.json({ error: `request body exceeds ${maxBodyBytes} bytes` }, 413);
    },
  }));
  app.post(
    AgentEndpoint.Heartbeat,
    handle(AgentEndpoint.Heartbeat, (bytes) => parseJsonBody(bytes, heartbeatRequestSchema)),
  );
  app.post(
    AgentEndpoint.HardwareReport,
    handle(AgentEndpoint.HardwareReport, (bytes) => {
      const body = parseJsonBody(bytes, hardwareReportRequestSchema);
      return { ...body, report: encoder.encode(JSON.stringify(body.report)) };
    }),
  );
  return app;
}
