/**
 * RedfishClient's limits against the BMC simulator: one request in flight
 * per BMC, the pool's in-flight limit across BMCs, the per-request timeout,
 * and a caller's abort while queued.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BmcTimeoutError, ClientClosedError, METRIC_NAMES, RedfishPool } from "../../redfish/mod.ts";
import { startBmcFleet, startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { Registry } from "prom-client";
import { within } from "../harness/wait.ts";
import { endpointOf, FAST, metricValue, rejection } from "./client_fixtures.ts";

Deno.test("ten concurrent callers on one BMC: one request in flight at a time", async () => {
  await using sim = await startBmcSimulator({ latencyMs: 10 });
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  const reads = Array.from({ length: 10 }, () => bmc.readSystem(undefined));
  const states = await Promise.all(reads);
  assert.ok(states.every((s) => s.powerState === "On"));
  assert.equal(sim.stats().maxInFlight, 1);
  assert.equal(sim.stats().sessionsCreated, 1);
  assert.equal(pool.queued, 0);
  assert.equal(pool.inFlight, 0);
});

Deno.test("the pool's maxInFlight holds across BMCs; each BMC still has one request in flight", async () => {
  await using fleet = await startBmcFleet({ count: 4, latencyMs: 20 });
  await using pool = new RedfishPool({ ...FAST, maxInFlight: 2 });
  const clients = fleet.bmcs.map((sim) => pool.client(endpointOf(sim)));
  let maxAtBmcs = 0;
  let maxQueued = 0;
  // Sampled while the reads run: the simulators' own count of requests being handled, summed over the fleet.
  const sampler = setInterval(() => {
    maxAtBmcs = Math.max(maxAtBmcs, fleet.bmcs.reduce((sum, sim) => sum + sim.stats().inFlight, 0));
    maxQueued = Math.max(maxQueued, pool.queued);
  }, 2);
  try {
    await Promise.all(clients.flatMap((bmc) => Array.from({ length: 5 }, () => bmc.readSystem(undefined))));
  } finally {
    clearInterval(sampler);
  }
  assert.ok(maxAtBmcs <= 2, `at most 2 in flight over the fleet, saw ${maxAtBmcs}`);
  assert.ok(maxQueued > 0, "requests queued");
  assert.equal(fleet.stats().maxInFlightPerBmc, 1);
  assert.equal(pool.inFlight, 0);
  assert.equal(pool.queued, 0);
});

Deno.test("a request that gets no reply fails with BmcTimeoutError after requestTimeoutMs; retried, it succeeds", async () => {
  await using sim = await startBmcSimulator();
  const registry = new Registry();
  await using pool = new RedfishPool({ ...FAST, requestTimeoutMs: 100, retry: { attempts: 1 }, registry });
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  sim.faults.hang = 1;
  const error = await rejection(bmc.readSystem(undefined), BmcTimeoutError);
  assert.equal(error.timeoutMs, 100);
  assert.equal(error.path, "/redfish/v1/Systems/1");
  assert.match(error.message, new RegExp(`^BMC ${sim.url}: GET /redfish/v1/Systems/1 got no reply within 100 ms`));
  assert.equal(await metricValue(registry, METRIC_NAMES.requests, { outcome: "timeout" }), 1);

  await using patient = new RedfishPool({ ...FAST, requestTimeoutMs: 100, registry });
  const retried = patient.client(endpointOf(sim));
  await retried.readSystem(undefined);
  sim.faults.hang = 1;
  assert.equal((await retried.readSystem(undefined)).powerState, "On");
  assert.equal(await metricValue(registry, METRIC_NAMES.retries, { reason: "timeout" }), 1);
});

Deno.test("a caller's abort ends its wait in the BMC's queue at once, and it leaves the queue", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  sim.faults.hang = 1;
  // The first read hangs (until its 5 s timeout); the second waits behind it.
  const hanging = bmc.readSystem(undefined);
  const controller = new AbortController();
  const queued = bmc.readSystem(undefined, { signal: controller.signal });
  const reason = new Error("operator gave up");
  controller.abort(reason);
  await assert.rejects(within(queued, 200, "the aborted read's rejection"), (error) => error === reason);
  assert.equal(pool.queued, 0);
  // Closing ends the hanging read too.
  const closed = rejection(hanging, ClientClosedError);
  await pool.close({ timeoutMs: 100 });
  await closed;
});
