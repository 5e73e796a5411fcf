/**
 * powerOn and powerOff against the BMC simulator: the ResetTypes chosen
 * from what the system allows, the wait for the settled state, a graceful
 * shutdown the OS ignores, a 202 task monitor, Dell's 409 to a redundant
 * reset, a 204 that changes nothing, a reset never resent after a timeout,
 * and an abort during the wait.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import {
  METRIC_NAMES,
  PowerTransitionError,
  RedfishPool,
  type ResetType,
  UnsupportedResetError,
} from "../../redfish/mod.ts";
import { type BmcSimulator, type SimulatedSystemOptions, startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { waitFor, within } from "../harness/wait.ts";
import { endpointOf, FAST, metricValue, QUICK, rejection } from "./client_fixtures.ts";

/** A BMC with one system (fast transitions), a pool, and the system's reset types so far. */
async function bmcWith(system: SimulatedSystemOptions, registry = new Registry()) {
  const sim = await startBmcSimulator({ systems: [{ transitionMs: 30, ...system }] });
  const pool = new RedfishPool({ ...FAST, registry });
  return {
    sim,
    pool,
    bmc: pool.client(endpointOf(sim)),
    resets: (): ResetType[] => sim.system("1").resets.map((r) => r.resetType),
    async [Symbol.asyncDispose]() {
      await pool.close();
      await sim.close();
    },
  };
}

Deno.test("powerOn of an Off system sends On and resolves once On has settled", async () => {
  await using t = await bmcWith({ powerState: "Off" });
  const result = await t.bmc.powerOn(undefined, QUICK);
  assert.deepEqual({ ...result, elapsedMs: 0 }, { action: "on", sent: ["On"], powerState: "On", elapsedMs: 0 });
  assert.equal(t.sim.system("1").powerState, "On");
  assert.deepEqual(t.resets(), ["On"]);
});

Deno.test("powerOn falls back to ForceOn, then PushPowerButton; it sends nothing to a system that is On", async () => {
  await using forceOn = await bmcWith({ powerState: "Off", resetTypes: ["ForceOn", "ForceOff"] });
  assert.deepEqual((await forceOn.bmc.powerOn(undefined, QUICK)).sent, ["ForceOn"]);
  await using button = await bmcWith({ powerState: "Off", resetTypes: ["PushPowerButton"] });
  assert.deepEqual((await button.bmc.powerOn(undefined, QUICK)).sent, ["PushPowerButton"]);
  assert.equal(button.sim.system("1").powerState, "On");
  const again = await button.bmc.powerOn(undefined, QUICK);
  assert.deepEqual({ sent: again.sent, powerState: again.powerState }, { sent: [], powerState: "On" });
  assert.deepEqual(button.resets(), ["PushPowerButton"]);
});

Deno.test("powerOff with full values: GracefulShutdown, honoured", async () => {
  await using t = await bmcWith({});
  const result = await t.bmc.powerOff(undefined, QUICK);
  assert.deepEqual([result.sent, result.powerState], [["GracefulShutdown"], "Off"]);
  assert.equal(t.sim.system("1").powerState, "Off");
  assert.deepEqual((await t.bmc.powerOff(undefined, QUICK)).sent, []);
});

Deno.test("powerOff when the OS ignores GracefulShutdown: ForceOff after gracefulTimeoutMs", async () => {
  await using t = await bmcWith({ gracefulHonoured: false });
  const result = await t.bmc.powerOff(undefined, { ...QUICK, gracefulTimeoutMs: 150 });
  assert.deepEqual([result.sent, result.powerState], [["GracefulShutdown", "ForceOff"], "Off"]);
  assert.ok(result.elapsedMs >= 150, `forced after ${result.elapsedMs} ms`);
  assert.deepEqual(t.resets(), ["GracefulShutdown", "ForceOff"]);
});

Deno.test("powerOff without GracefulShutdown: ForceOff at once", async () => {
  await using t = await bmcWith({ resetTypes: ["On", "ForceOff"] });
  const result = await t.bmc.powerOff(undefined, { ...QUICK, gracefulTimeoutMs: 60_000 });
  assert.deepEqual([result.sent, result.powerState], [["ForceOff"], "Off"]);
});

Deno.test("a 204 that changes nothing is not a result: PowerTransitionError says what was sent and seen", async () => {
  await using t = await bmcWith({ resetTypes: ["On", "GracefulShutdown"], gracefulHonoured: false });
  const registry = new Registry();
  await using pool = new RedfishPool({ ...FAST, registry });
  const error = await rejection(
    pool.client(endpointOf(t.sim)).powerOff(undefined, { ...QUICK, gracefulTimeoutMs: 100 }),
    PowerTransitionError,
  );
  assert.equal(error.action, "off");
  assert.equal(error.systemPath, "/redfish/v1/Systems/1");
  assert.deepEqual(error.sent, ["GracefulShutdown"]);
  assert.deepEqual(error.seen, ["On"]);
  assert.equal(
    error.message,
    `BMC ${t.sim.url}: off of /redfish/v1/Systems/1 failed: not Off within 0.1 s, and ForceOff is not allowed ` +
      "(sent GracefulShutdown; saw On)",
  );
  assert.equal(await metricValue(registry, METRIC_NAMES.powerActions, { result: "transition_failed" }), 1);
});

Deno.test("an action the system's ResetTypes cannot do: UnsupportedResetError, nothing sent", async () => {
  await using t = await bmcWith({ resetTypes: ["Nmi"] });
  const error = await rejection(t.bmc.powerOff(undefined, QUICK), UnsupportedResetError);
  assert.equal(error.needed, "GracefulShutdown or ForceOff");
  assert.deepEqual(t.resets(), []);
});

Deno.test("a 202 with a task monitor: the monitor is followed until the task ends, then the state", async () => {
  const registry = new Registry();
  await using t = await bmcWith({ resetReply: "202", transitionMs: 50 }, registry);
  const result = await t.bmc.powerOff(undefined, QUICK);
  assert.deepEqual([result.sent, result.powerState], [["GracefulShutdown"], "Off"]);
  assert.ok(await metricValue(registry, METRIC_NAMES.requests, { operation: "task_monitor" }) >= 1);
  // The reset's 202, and the monitor's 202s while it ran.
  assert.ok((t.sim.stats().byStatus["202"] ?? 0) >= 2, JSON.stringify(t.sim.stats().byStatus));
});

/**
 * Starts `action`, and once its reset has reached the BMC (which holds every
 * request `latencyMs` before acting), changes the power behind the client's
 * back: the reset then asks for what the system already is.
 */
async function beatenToIt(t: { sim: BmcSimulator }, act: () => Promise<unknown>, power: "On" | "Off") {
  const before = t.sim.stats().requests;
  t.sim.faults.latencyMs = 100;
  const acting = act();
  // The system read, then the reset.
  await waitFor(() => t.sim.stats().requests >= before + 2, { intervalMs: 5, what: "the reset to arrive" });
  t.sim.system("1").setPower(power);
  const result = await acting;
  t.sim.faults.latencyMs = 0;
  return result;
}

Deno.test("Dell's 409 to On when already On, and to ForceOff when already Off, counts as already there", async () => {
  await using t = await bmcWith({ powerState: "Off", redundantReset: "conflict", resetTypes: ["On", "ForceOff"] });
  await t.bmc.readSystem(undefined);
  const on = await beatenToIt(t, () => t.bmc.powerOn(undefined, QUICK), "On");
  assert.deepEqual(on, {
    action: "on",
    sent: ["On"],
    powerState: "On",
    elapsedMs: (on as { elapsedMs: number }).elapsedMs,
  });
  const off = await beatenToIt(t, () => t.bmc.powerOff(undefined, QUICK), "Off");
  assert.equal((off as { powerState: string }).powerState, "Off");
  assert.equal(t.sim.stats().byStatus["409"], 2);
  assert.deepEqual(t.resets(), []);
});

Deno.test("a reset that timed out is never sent again: the state decides (here: it did not happen)", async () => {
  await using t = await bmcWith({ powerState: "Off" });
  await using pool = new RedfishPool({ ...FAST, requestTimeoutMs: 300 });
  const bmc = pool.client(endpointOf(t.sim));
  await bmc.readSystem(undefined);
  t.sim.faults.latencyMs = 50;
  const before = t.sim.stats().requests;
  const acting = rejection(bmc.powerOn(undefined, { ...QUICK, settleTimeoutMs: 400 }), PowerTransitionError);
  await waitFor(() => t.sim.stats().requests >= before + 2, { intervalMs: 5, what: "the reset to arrive" });
  // The reset, in its latency, is held from now on: it times out, and it is not resent.
  t.sim.faults.hang = 1;
  const error = await acting;
  assert.deepEqual(error.sent, ["On"]);
  assert.deepEqual(error.seen, ["Off"]);
  assert.match(error.problem, /^not On within 0.4 s$/);
  assert.deepEqual(t.resets(), []);
  assert.equal(t.sim.stats().byStatus.hang, 1);
});

Deno.test("aborting a power action ends its wait at once, with the signal's reason", async () => {
  await using t = await bmcWith({ gracefulHonoured: false });
  const controller = new AbortController();
  const acting = t.bmc.powerOff(undefined, { ...QUICK, gracefulTimeoutMs: 60_000, signal: controller.signal });
  const settled = acting.catch((error) => error);
  await waitFor(() => t.resets().length === 1, { intervalMs: 5, what: "GracefulShutdown to be sent" });
  const reason = new Error("operator cancelled the work");
  controller.abort(reason);
  assert.equal(await within(settled, 200, "the power action's rejection"), reason);
  assert.deepEqual(t.resets(), ["GracefulShutdown"]);
});
