/**
 * The Drover server: one Hono app with the agent API (`/agent/v1`) and
 * health (`/healthz`), served by `Deno.serve`.
 *
 * @module
 */
export { serverApp, type ServerAppOptions } from "./app.ts";
export { agentApi, type AgentApiOptions } from "./agent_api.ts";
export { ApiError } from "./api_error.ts";
export { listen, type RunningServer } from "./listen.ts";
