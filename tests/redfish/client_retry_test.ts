/**
 * RedfishClient's retries against the BMC simulator: 500s retried until a
 * request succeeds, a 503's Retry-After waited out (and one too long not
 * waited for), giving up after `attempts` with the BMC's own message, and
 * refused connections.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { BmcUnreachableError, METRIC_NAMES, RedfishError, RedfishPool } from "../../redfish/mod.ts";
import { startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { endpointOf, FAST, metricValue, rejection } from "./client_fixtures.ts";

Deno.test("500s are retried: every read of a BMC failing half its requests succeeds", async () => {
  await using sim = await startBmcSimulator();
  const registry = new Registry();
  // 2^-30 per read: the chance that this test fails by bad luck.
  await using pool = new RedfishPool({ ...FAST, retry: { attempts: 30, initialDelayMs: 1, maxDelayMs: 2 }, registry });
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  sim.faults.errorRate = 0.5;
  for (let i = 0; i < 10; i++) assert.equal((await bmc.readSystem(undefined)).powerState, "On");
  const failed = sim.stats().byStatus["500"] ?? 0;
  assert.ok(failed > 0, "some requests failed");
  assert.equal(await metricValue(registry, METRIC_NAMES.retries, { reason: "5xx" }), failed);
});

Deno.test("a 503 with Retry-After is retried after the wait it asks for", async () => {
  await using sim = await startBmcSimulator();
  const registry = new Registry();
  await using pool = new RedfishPool({ ...FAST, registry });
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  sim.faults.unavailable = { count: 1, retryAfterSeconds: 1 };
  const started = performance.now();
  assert.equal((await bmc.readSystem(undefined)).powerState, "On");
  const elapsedMs = performance.now() - started;
  // The backoff alone would be at most 20 ms.
  assert.ok(elapsedMs >= 950, `waited ${Math.round(elapsedMs)} ms`);
  assert.equal(sim.stats().byStatus["503"], 1);
  assert.equal(await metricValue(registry, METRIC_NAMES.retries, { reason: "503" }), 1);
});

Deno.test("a Retry-After beyond a minute is not waited for: the 503 is the caller's at once", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  sim.faults.unavailable = { count: 1, retryAfterSeconds: 600 };
  const error = await rejection(bmc.readSystem(undefined), RedfishError);
  assert.equal(error.status, 503);
  assert.equal(error.retryAfterMs, 600_000);
  assert.match(error.message, /Retry in 600 seconds/);
});

Deno.test("after `attempts` failures the last one is thrown, with the BMC's error message and MessageId", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool({ ...FAST, retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 2 } });
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  sim.faults.errorRate = 1;
  const error = await rejection(bmc.readSystem(undefined), RedfishError);
  assert.equal(error.status, 500);
  assert.equal(error.method, "GET");
  assert.equal(error.url, `${sim.url}/redfish/v1/Systems/1`);
  assert.ok(error.messageIds.some((id) => /^Base\.[\d.]+\.InternalError$/.test(id)), error.messageIds.join());
  assert.match(
    error.message,
    new RegExp(`^BMC ${sim.url}: GET /redfish/v1/Systems/1 got HTTP 500: .*internal service error`),
  );
  assert.equal(sim.stats().byStatus["500"], 3);
});

Deno.test("refused connections: BmcUnreachableError after the retries; the BMC is read again once it is back", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  await sim.refuseConnections();
  const error = await rejection(bmc.readSystem(undefined), BmcUnreachableError);
  assert.equal(error.reason, "refused");
  assert.equal(error.code, "ECONNREFUSED");
  assert.equal(error.maybeDelivered, false);
  assert.equal(error.message, `BMC ${sim.url}: connection refused`);
  await sim.resume();
  assert.equal((await bmc.readSystem(undefined)).powerState, "On");
  // A BMC that is not there: the same, from the first request (the service root).
  await sim.close();
  await using fresh = new RedfishPool(FAST);
  const first = await rejection(fresh.client(endpointOf(sim)).readSystem(undefined), BmcUnreachableError);
  assert.equal(first.reason, "refused");
});
