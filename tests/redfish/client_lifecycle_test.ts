/**
 * RedfishClient's and RedfishPool's lifetime: one kept-alive connection per
 * BMC, closed once idle; ClientClosedError after close (for calls waiting,
 * in flight, and later); a close bounded when the BMC does not answer; the
 * metrics of two pools on one registry.
 *
 * @module
 */
import assert from "node:assert/strict";
import net from "node:net";
import { Registry } from "prom-client";
import { ClientClosedError, METRIC_NAMES, RedfishPool } from "../../redfish/mod.ts";
import { startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { waitFor, within } from "../harness/wait.ts";
import { endpointOf, FAST, metricValue, QUICK, rejection } from "./client_fixtures.ts";

/** A TCP proxy to `targetPort` that counts the connections made through it and those open now. */
async function countingProxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  let made = 0;
  const server = net.createServer((client) => {
    made++;
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", () => (sockets.delete(client), end()));
    upstream.on("close", () => (sockets.delete(upstream), end()));
    client.on("error", end);
    upstream.on("error", end);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    made: () => made,
    /** Client connections open now. */
    open: () => [...sockets].filter((s) => s.localPort === port).length,
    async [Symbol.asyncDispose]() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

Deno.test("one kept-alive connection serves a BMC's requests, and closes once idle for idleSocketMs", async () => {
  await using sim = await startBmcSimulator({ systems: [{ transitionMs: 10 }] });
  await using proxy = await countingProxy(Number(new URL(sim.url).port));
  await using pool = new RedfishPool({ ...FAST, idleSocketMs: 200 });
  const bmc = pool.client({ ...endpointOf(sim), url: proxy.url });
  for (let i = 0; i < 5; i++) await bmc.readSystem(undefined);
  assert.equal(proxy.made(), 1);
  assert.equal(proxy.open(), 1);
  await waitFor(() => proxy.open() === 0, { timeoutMs: 2_000, what: "the idle connection to close" });
  // A reset goes on a connection of its own (a kept-alive one may have been closed by the BMC meanwhile).
  await bmc.powerOff(undefined, QUICK);
  // The idle-closed one, a new one for the reads, and the reset's own.
  assert.equal(proxy.made(), 3);
});

Deno.test("after close(), every call rejects with ClientClosedError: waiting, in flight, and later", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  await bmc.readSystem(undefined);
  sim.faults.hang = 1;
  const inFlight = rejection(bmc.readSystem(undefined), ClientClosedError);
  const waiting = rejection(bmc.readSystem(undefined), ClientClosedError);
  await waitFor(() => sim.stats().inFlight === 1, { what: "the hanging request to arrive" });
  await within(bmc.close(), 1_000, "the client's close");
  await inFlight;
  await waiting;
  const later = await rejection(bmc.restart(undefined, QUICK), ClientClosedError);
  assert.equal(later.message, `BMC ${sim.url}: the Redfish client is closed`);
  assert.equal(sim.stats().sessionsOpen, 0);
  // The pool forgot it: the same endpoint gives a new client.
  assert.notEqual(pool.client(endpointOf(sim)), bmc);
});

Deno.test("pool.close() is bounded by timeoutMs when a BMC does not answer its session DELETE", async () => {
  await using sim = await startBmcSimulator();
  const pool = new RedfishPool(FAST);
  await pool.client(endpointOf(sim)).readSystem(undefined);
  sim.faults.hang = 1;
  await within(pool.close({ timeoutMs: 100 }), 1_000, "the pool's close");
  assert.equal(pool.sessionsOpen, 0);
  // The BMC still has it: it expires there.
  assert.equal(sim.stats().sessionsOpen, 1);
  assert.throws(() => pool.client(endpointOf(sim)), ClientClosedError);
});

Deno.test("two pools on one registry share the drover_redfish_* metrics", async () => {
  await using sim = await startBmcSimulator();
  const registry = new Registry();
  await using a = new RedfishPool({ ...FAST, registry });
  await using b = new RedfishPool({ ...FAST, registry });
  await a.client(endpointOf(sim)).readSystem(undefined);
  await b.client(endpointOf(sim)).readSystem(undefined);
  assert.equal(await metricValue(registry, METRIC_NAMES.clients), 2);
  assert.equal(await metricValue(registry, METRIC_NAMES.sessionsOpen), 2);
  assert.equal(await metricValue(registry, METRIC_NAMES.requests, { operation: "system", outcome: "2xx" }), 2);
  assert.equal(await metricValue(registry, METRIC_NAMES.requests, { operation: "session_create" }), 2);
  await a.close();
  assert.equal(await metricValue(registry, METRIC_NAMES.clients), 1);
  assert.equal(await metricValue(registry, METRIC_NAMES.inFlight), 0);
  assert.equal(await metricValue(registry, METRIC_NAMES.queued), 0);
  for (const name of Object.values(METRIC_NAMES)) assert.ok(registry.getSingleMetric(name), name);
});

Deno.test("bad options and endpoints are refused with RangeError and TypeError", async () => {
  assert.throws(() => new RedfishPool({ maxInFlight: 0 }), RangeError);
  assert.throws(() => new RedfishPool({ retry: { attempts: 1.5 } }), RangeError);
  assert.throws(() => new RedfishPool({ retry: { initialDelayMs: 100, maxDelayMs: 10 } }), RangeError);
  await using pool = new RedfishPool();
  const login = { username: "root", password: "calvin" };
  assert.throws(() => pool.client({ url: "https://10.0.0.1/redfish/v1", ...login }), TypeError);
  assert.throws(() => pool.client({ url: "ftp://10.0.0.1", ...login }), TypeError);
  assert.throws(() => pool.client({ url: "10.0.0.1", ...login }), TypeError);
  assert.equal(pool.client({ url: "https://10.0.0.1:443/", ...login }).origin, "https://10.0.0.1");
});
