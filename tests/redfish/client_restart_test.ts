/**
 * restart against the BMC simulator: GracefulRestart where allowed and
 * honoured; the forced restart chosen without it (ForceRestart with
 * LastResetTime, PowerCycle, ForceOff then On) or after the graceful
 * timeout; an Off system powered on; a lost reply that must not become a
 * second reset; and a restart that cannot be observed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { PowerTransitionError, RedfishPool, type ResetType } from "../../redfish/mod.ts";
import {
  type ResetType as SimulatedResetType,
  type SimulatedSystemOptions,
  startBmcSimulator,
} from "../../redfish/simulator/mod.ts";
import { endpointOf, FAST, QUICK, rejection } from "./client_fixtures.ts";

/** Dell iDRAC 9's ResetTypes: no GracefulRestart. */
const IDRAC9: SimulatedResetType[] = [
  "On",
  "ForceOff",
  "ForceRestart",
  "GracefulShutdown",
  "PushPowerButton",
  "Nmi",
  "PowerCycle",
];

async function bmcWith(system: SimulatedSystemOptions) {
  const sim = await startBmcSimulator({ systems: [{ transitionMs: 30, ...system }] });
  const pool = new RedfishPool(FAST);
  return {
    sim,
    bmc: pool.client(endpointOf(sim)),
    resets: (): ResetType[] => sim.system("1").resets.map((r) => r.resetType),
    async [Symbol.asyncDispose]() {
      await pool.close();
      await sim.close();
    },
  };
}

Deno.test("restart with full values: GracefulRestart, done once seen and On again", async () => {
  await using t = await bmcWith({});
  const result = await t.bmc.restart(undefined, QUICK);
  assert.deepEqual([result.action, result.sent, result.powerState], ["restart", ["GracefulRestart"], "On"]);
  await t.sim.system("1").waitUntilRunning(AbortSignal.timeout(5_000));
  assert.equal(t.sim.system("1").boots, 2);
  assert.deepEqual(t.resets(), ["GracefulRestart"]);
});

Deno.test("restart without GracefulRestart (iDRAC 9), LastResetTime reported: ForceRestart, seen by LastResetTime", async () => {
  await using t = await bmcWith({ resetTypes: IDRAC9 });
  const result = await t.bmc.restart(undefined, { ...QUICK, gracefulTimeoutMs: 60_000 });
  assert.deepEqual([result.sent, result.powerState], [["ForceRestart"], "On"]);
  await t.sim.system("1").waitUntilRunning(AbortSignal.timeout(5_000));
  assert.equal(t.sim.system("1").boots, 2);
});

Deno.test("restart without GracefulRestart nor LastResetTime: PowerCycle, seen by PowerState", async () => {
  await using t = await bmcWith({ resetTypes: IDRAC9, reportsLastResetTime: false, transitionMs: 50 });
  const result = await t.bmc.restart(undefined, QUICK);
  assert.deepEqual([result.sent, result.powerState], [["PowerCycle"], "On"]);
  assert.equal(t.sim.system("1").boots, 2);
});

Deno.test("restart with ForceOff and On only: ForceOff, Off settled, then On", async () => {
  await using t = await bmcWith({ resetTypes: ["On", "ForceOff"] });
  const result = await t.bmc.restart(undefined, QUICK);
  assert.deepEqual([result.sent, result.powerState], [["ForceOff", "On"], "On"]);
  assert.deepEqual(t.resets(), ["ForceOff", "On"]);
  assert.equal(t.sim.system("1").boots, 2);
});

Deno.test("restart when the OS ignores GracefulRestart: forced after gracefulTimeoutMs", async () => {
  await using t = await bmcWith({ gracefulHonoured: false });
  const result = await t.bmc.restart(undefined, { ...QUICK, gracefulTimeoutMs: 150 });
  assert.deepEqual([result.sent, result.powerState], [["GracefulRestart", "ForceRestart"], "On"]);
  assert.ok(result.elapsedMs >= 150, `forced after ${result.elapsedMs} ms`);
  assert.deepEqual(t.resets(), ["GracefulRestart", "ForceRestart"]);
});

Deno.test("restart of an Off system powers it on", async () => {
  await using t = await bmcWith({ powerState: "Off" });
  const result = await t.bmc.restart(undefined, QUICK);
  assert.deepEqual([result.sent, result.powerState], [["On"], "On"]);
});

Deno.test("a lost reply to a reset: the reset is not sent again, and the action succeeds from the state", async () => {
  const cases: { action: "restart" | "off"; system: SimulatedSystemOptions; sent: ResetType[] }[] = [
    { action: "restart", system: {}, sent: ["GracefulRestart"] },
    { action: "restart", system: { resetTypes: IDRAC9 }, sent: ["ForceRestart"] },
    { action: "off", system: { resetTypes: ["On", "ForceOff"] }, sent: ["ForceOff"] },
  ];
  for (const { action, system, sent } of cases) {
    await using t = await bmcWith(system);
    await t.bmc.readSystem(undefined);
    // The reset is carried out, then its connection dropped before any reply.
    t.sim.faults.loseReplies = 1;
    const result = action === "off"
      ? await t.bmc.powerOff(undefined, QUICK)
      : await t.bmc.restart(undefined, { ...QUICK, gracefulTimeoutMs: 60_000 });
    assert.deepEqual(result.sent, sent);
    assert.equal(t.sim.stats().byStatus.lost, 1);
    assert.deepEqual(t.resets(), sent, `${action} with ${JSON.stringify(system)}: one reset`);
  }
});

Deno.test("a ForceRestart whose effect cannot be seen (no LastResetTime, PowerState stays On) fails saying so", async () => {
  await using t = await bmcWith({ resetTypes: ["On", "ForceRestart"], reportsLastResetTime: false });
  assert.equal(
    t.bmc.plan("restart", await t.bmc.readSystem(undefined)).description,
    "ForceRestart (its effect may not be observable: the BMC reports no LastResetTime)",
  );
  const error = await rejection(t.bmc.restart(undefined, { ...QUICK, settleTimeoutMs: 200 }), PowerTransitionError);
  assert.deepEqual(error.sent, ["ForceRestart"]);
  assert.deepEqual(error.seen, ["On"]);
  assert.match(error.problem, /cannot be observed/);
  // It did restart: only the BMC could not show it.
  assert.deepEqual(t.resets(), ["ForceRestart"]);
});

Deno.test("a GracefulRestart ignored with no forced restart allowed fails with PowerTransitionError", async () => {
  await using t = await bmcWith({ resetTypes: ["On", "GracefulRestart"], gracefulHonoured: false });
  const error = await rejection(t.bmc.restart(undefined, { ...QUICK, gracefulTimeoutMs: 100 }), PowerTransitionError);
  assert.deepEqual(error.sent, ["GracefulRestart"]);
  assert.equal(error.problem, "not restarted within 0.1 s, and no forced restart is allowed");
});
