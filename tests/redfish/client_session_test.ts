/**
 * RedfishClient's authentication against the BMC simulator: one session
 * reused, renewed after it expires, deleted at close; HTTP basic where the
 * BMC has no sessions or refuses another; wrong credentials; a client
 * replaced by one with other credentials.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { ClientClosedError, METRIC_NAMES, RedfishError, RedfishPool } from "../../redfish/mod.ts";
import { startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { waitFor } from "../harness/wait.ts";
import { endpointOf, FAST, metricValue, rejection } from "./client_fixtures.ts";

Deno.test("one session serves every request, and close() deletes it", async () => {
  await using sim = await startBmcSimulator();
  const registry = new Registry();
  const pool = new RedfishPool({ ...FAST, registry });
  const bmc = pool.client(endpointOf(sim));
  await Promise.all(Array.from({ length: 10 }, () => bmc.readSystem(undefined)));
  for (let i = 0; i < 10; i++) await bmc.readSystem("/redfish/v1/Systems/1");
  assert.equal(sim.stats().sessionsCreated, 1);
  assert.equal(sim.stats().sessionsOpen, 1);
  assert.equal(pool.sessionsOpen, 1);
  assert.equal(await metricValue(registry, METRIC_NAMES.sessionsOpen), 1);
  await pool.close();
  assert.equal(sim.stats().sessionsOpen, 0);
  assert.equal(pool.sessionsOpen, 0);
  assert.equal(await metricValue(registry, METRIC_NAMES.sessions, { event: "deleted" }), 1);
  assert.equal(await metricValue(registry, METRIC_NAMES.sessionsOpen), 0);
});

Deno.test("an expired session is replaced after its 401, and the request retried once; never two at once", async () => {
  await using sim = await startBmcSimulator({ sessionTimeoutSeconds: 0.2 });
  const registry = new Registry();
  await using pool = new RedfishPool({ ...FAST, registry });
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  // The simulator expires idle sessions as it looks at them.
  await waitFor(() => sim.stats().sessionsOpen === 0, { what: "the session to expire", intervalMs: 20 });
  const state = await bmc.readSystem(undefined);
  assert.equal(state.powerState, "On");
  const stats = sim.stats();
  assert.equal(stats.sessionsCreated, 2);
  assert.equal(stats.maxSessionsOpen, 1);
  assert.equal(stats.byStatus["401"], 1);
  assert.equal(pool.sessionsOpen, 1);
  assert.equal(await metricValue(registry, METRIC_NAMES.sessions, { event: "renewed" }), 1);
});

Deno.test("a BMC without sessions (auth basic) is read with HTTP basic", async () => {
  await using sim = await startBmcSimulator({ auth: "basic" });
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  assert.equal((await bmc.readSystem(undefined)).powerState, "On");
  assert.equal((await bmc.powerOff(undefined, { pollIntervalMs: 5 })).powerState, "Off");
  assert.equal(sim.stats().sessionsCreated, 0);
  assert.equal(pool.sessionsOpen, 0);
  assert.equal(sim.stats().byStatus["401"], undefined);
});

Deno.test("a BMC out of sessions (503 SessionLimitExceeded) is read with HTTP basic instead", async () => {
  await using sim = await startBmcSimulator({ maxSessions: 1 });
  // Another Drover replica holds the BMC's only session.
  await using other = new RedfishPool(FAST);
  await other.client(endpointOf(sim)).readSystem(undefined);
  const registry = new Registry();
  await using pool = new RedfishPool({ ...FAST, registry });
  const bmc = pool.client(endpointOf(sim));
  assert.equal((await bmc.readSystem(undefined)).powerState, "On");
  await bmc.readSystem(undefined);
  const stats = sim.stats();
  assert.equal(stats.sessionsCreated, 1);
  // Refused once, not retried: the limit does not go away by waiting.
  assert.equal(stats.byStatus["503"], 1);
  assert.equal(pool.sessionsOpen, 0);
  assert.equal(await metricValue(registry, METRIC_NAMES.sessions, { event: "refused" }), 1);
});

Deno.test("wrong credentials fail at once with a RedfishError saying authentication failed", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client({ ...endpointOf(sim), password: "wrong" });
  const error = await rejection(bmc.readSystem(undefined), RedfishError);
  assert.equal(error.status, 401);
  assert.match(error.message, /authentication failed for user "admin"/);
  assert.doesNotMatch(error.message, /wrong/);
  assert.ok(error.messageIds.some((id) => id.endsWith("ResourceAtUriUnauthorized")), error.messageIds.join());
  // The root, then one session POST: a 401 is not retried.
  assert.equal(sim.stats().requests, 2);
  // Basic: the same.
  await using basicSim = await startBmcSimulator({ auth: "basic" });
  const basicError = await rejection(
    pool.client({ ...endpointOf(basicSim), password: "wrong" }).readSystem(undefined),
    RedfishError,
  );
  assert.equal(basicError.status, 401);
  assert.match(basicError.message, /authentication failed/);
});

Deno.test("pool.client() gives one client per login; other credentials replace it and delete its session", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const endpoint = endpointOf(sim);
  const first = pool.client(endpoint);
  assert.equal(pool.client({ ...endpoint }), first);
  assert.equal(pool.client({ ...endpoint, url: `${sim.url}/` }), first);
  await first.readSystem(undefined);
  assert.equal(sim.stats().sessionsOpen, 1);
  // Same credentials, another TLS mode: a new client (over http the mode changes nothing on the wire).
  const second = pool.client({ ...endpoint, tls: "insecure" });
  assert.notEqual(second, first);
  await rejection(first.readSystem(undefined), ClientClosedError);
  await waitFor(() => sim.stats().sessionsOpen === 0, { what: "the replaced client's session to be deleted" });
  await second.readSystem(undefined);
  assert.equal(sim.stats().sessionsCreated, 2);
  assert.equal(sim.stats().maxSessionsOpen, 1);
});
