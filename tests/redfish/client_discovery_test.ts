/**
 * RedfishClient against the BMC simulator: discovery (the only system, a
 * configured path, several systems), what readSystem reports, and plan().
 *
 * @module
 */
import assert from "node:assert/strict";
import { RedfishPool, SystemNotFoundError, UnsupportedResetError } from "../../redfish/mod.ts";
import { DEFAULT_RESET_TYPES, startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { endpointOf, FAST, rejection, thrown } from "./client_fixtures.ts";

Deno.test("readSystem(undefined) reads the BMC's only system; the root and the member are read once", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  const first = await bmc.readSystem(undefined);
  assert.deepEqual(first, {
    path: "/redfish/v1/Systems/1",
    powerState: "On",
    health: "OK",
    state: "Enabled",
    resetTypes: [...DEFAULT_RESET_TYPES],
    lastResetTime: first.lastResetTime,
  });
  assert.equal(typeof first.lastResetTime, "string");
  await bmc.readSystem(undefined);
  // Root, session, Systems, the system; then the system alone.
  assert.equal(sim.stats().requests, 5);
});

Deno.test("readSystem(path) reads that system among several", async () => {
  await using sim = await startBmcSimulator({ systems: [{ id: "a" }, { id: "b", powerState: "Off" }] });
  await using pool = new RedfishPool(FAST);
  const state = await pool.client(endpointOf(sim)).readSystem("/redfish/v1/Systems/b");
  assert.equal(state.path, "/redfish/v1/Systems/b");
  assert.equal(state.powerState, "Off");
  assert.equal(state.state, "StandbyOffline");
});

Deno.test("readSystem(undefined) with several systems rejects with SystemNotFoundError listing them", async () => {
  await using sim = await startBmcSimulator({ systems: [{ id: "a" }, { id: "b" }] });
  await using pool = new RedfishPool(FAST);
  const error = await rejection(pool.client(endpointOf(sim)).readSystem(undefined), SystemNotFoundError);
  assert.equal(error.requested, undefined);
  assert.deepEqual(error.members, ["/redfish/v1/Systems/a", "/redfish/v1/Systems/b"]);
  assert.match(
    error.message,
    new RegExp(`^BMC ${sim.url}: 2 systems, name one; its systems are /redfish/v1/Systems/a`),
  );
});

Deno.test("readSystem(path) of a system the BMC lacks rejects with SystemNotFoundError listing the members", async () => {
  await using sim = await startBmcSimulator();
  await using pool = new RedfishPool(FAST);
  const error = await rejection(pool.client(endpointOf(sim)).readSystem("/redfish/v1/Systems/9"), SystemNotFoundError);
  assert.equal(error.requested, "/redfish/v1/Systems/9");
  assert.deepEqual(error.members, ["/redfish/v1/Systems/1"]);
  await assert.rejects(pool.client(endpointOf(sim)).readSystem("Systems/1"), TypeError);
});

Deno.test("readSystem() reports health, allowed ResetTypes, and a missing LastResetTime as null", async () => {
  await using sim = await startBmcSimulator({
    systems: [{ resetTypes: ["On", "ForceOff", "PushPowerButton"], reportsLastResetTime: false }],
  });
  await using pool = new RedfishPool(FAST);
  sim.system("1").health = "Critical";
  const state = await pool.client(endpointOf(sim)).readSystem(undefined);
  assert.equal(state.health, "Critical");
  assert.deepEqual(state.resetTypes, ["On", "ForceOff", "PushPowerButton"]);
  assert.equal(state.lastResetTime, null);
});

Deno.test("plan() says what each action would send, from a system's state as read", async () => {
  await using sim = await startBmcSimulator({
    systems: [
      { id: "full" },
      // Dell iDRAC 9: no GracefulRestart.
      { id: "idrac", resetTypes: ["On", "ForceOff", "ForceRestart", "GracefulShutdown", "PushPowerButton", "Nmi"] },
      { id: "bare", resetTypes: ["On", "ForceOff"], reportsLastResetTime: false },
      { id: "nmi", resetTypes: ["Nmi"] },
    ],
  });
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim));
  const full = await bmc.readSystem("/redfish/v1/Systems/full");
  assert.deepEqual(bmc.plan("restart", full), {
    resetTypes: ["GracefulRestart", "ForceRestart"],
    description: "GracefulRestart, then ForceRestart if not restarted after 120 s",
  });
  assert.deepEqual(bmc.plan("off", full, { gracefulTimeoutMs: 30_000 }), {
    resetTypes: ["GracefulShutdown", "ForceOff"],
    description: "GracefulShutdown, then ForceOff if not off after 30 s",
  });
  assert.deepEqual(bmc.plan("on", full), { resetTypes: [], description: "nothing: already On" });
  const idrac = await bmc.readSystem("/redfish/v1/Systems/idrac");
  assert.deepEqual(bmc.plan("restart", idrac), { resetTypes: ["ForceRestart"], description: "ForceRestart" });
  const bare = await bmc.readSystem("/redfish/v1/Systems/bare");
  assert.deepEqual(bmc.plan("restart", bare), { resetTypes: ["ForceOff", "On"], description: "ForceOff, then On" });
  const nmi = await bmc.readSystem("/redfish/v1/Systems/nmi");
  const error = thrown(() => bmc.plan("off", nmi), UnsupportedResetError);
  assert.deepEqual(error.allowed, ["Nmi"]);
});
