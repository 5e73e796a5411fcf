/**
 * The Drover server: one Hono app with health and readiness, the agent API
 * (`/agent/v1`), and the admin API (`/api/v1`, see API.md) with its event
 * stream, login and `/metrics`; served by `Deno.serve`.
 *
 * @module
 */
export { type AdminOptions, serverApp, type ServerAppOptions } from "./app.ts";
export { agentApi, type AgentApiOptions } from "./agent_api.ts";
export { ApiError } from "./api_error.ts";
export { type AccessOptions, type Role, TOKEN_COOKIE } from "./auth.ts";
export { EventHub, type EventHubOptions, type LiveSources } from "./event_hub.ts";
export { listen, type RunningServer } from "./listen.ts";
export { type LiveFeed, openLiveFeed } from "./live_feed.ts";
export type { TimelineEntry } from "./timeline.ts";
