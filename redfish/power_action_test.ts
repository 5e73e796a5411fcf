import assert from "node:assert/strict";
import { PowerTransitionError } from "./errors.ts";
import { type PowerTarget, type ResetReply, runPowerAction } from "./power_action.ts";
import type { PowerState, ResetType, SystemState } from "./system_state.ts";
import type { TaskOutcome } from "./task_monitor.ts";

const FULL: ResetType[] = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart"];

/** A system whose readings follow a script: each read takes the next (the last one repeats). */
function scripted(
  readings: (PowerState | [PowerState, string] | "unreachable")[],
  options: { reply?: ResetReply; tasks?: TaskOutcome[]; resetTypes?: ResetType[] } = {},
) {
  const sent: ResetType[] = [];
  let index = 0;
  const target: PowerTarget = {
    origin: "https://bmc",
    path: "/redfish/v1/Systems/1",
    requestTimeoutMs: 1_000,
    read: () => {
      const next = readings[Math.min(index++, readings.length - 1)];
      if (next === "unreachable") return Promise.reject(new (class extends Error {})("not a transient error"));
      const [powerState, lastResetTime] = Array.isArray(next) ? next : [next, "t0"];
      const state: SystemState = {
        path: "/redfish/v1/Systems/1",
        powerState,
        health: "OK",
        state: "Enabled",
        resetTypes: options.resetTypes ?? FULL,
        lastResetTime,
      };
      return Promise.resolve(state);
    },
    reset: (resetType) => {
      sent.push(resetType);
      return Promise.resolve(options.reply ?? { kind: "accepted", taskMonitor: undefined });
    },
    followTask: () => Promise.resolve(options.tasks?.shift() ?? { ok: true }),
  };
  return { target, sent };
}

const FAST = { pollIntervalMs: 1, gracefulTimeoutMs: 30, settleTimeoutMs: 60 };

Deno.test("runPowerAction(): a restart seen leaving On by the graceful deadline is waited for, not forced", async () => {
  // On, then Off for longer than the graceful timeout, then On again.
  const { target, sent } = scripted(["On", "On", ...Array(60).fill("Off"), "PoweringOn", "On"]);
  const result = await runPowerAction(target, "restart", { ...FAST, settleTimeoutMs: 1_000 });
  assert.deepEqual(result.sent, ["GracefulRestart"]);
  assert.deepEqual(sent, ["GracefulRestart"]);
});

Deno.test("runPowerAction(): LastResetTime moving counts as restarted though PowerState stayed On", async () => {
  const { target } = scripted(["On", "On", ["On", "t1"]]);
  assert.deepEqual((await runPowerAction(target, "restart", FAST)).sent, ["GracefulRestart"]);
});

Deno.test("runPowerAction(): a settled state needs two reads in a row; a Powering* reading in between restarts the count", async () => {
  const { target } = scripted(["On", "Off", "PoweringOff", "Off", "PoweringOff", "Off", "Off"]);
  const result = await runPowerAction(target, "off", FAST);
  assert.deepEqual([result.sent, result.powerState], [["GracefulShutdown"], "Off"]);
});

Deno.test("runPowerAction(): a system mid-transition is waited for, then planned from where it ended", async () => {
  const { target, sent } = scripted(["PoweringOn", "PoweringOn", "On", "On"]);
  const result = await runPowerAction(target, "on", FAST);
  assert.deepEqual([result.sent, result.powerState], [[], "On"]);
  assert.deepEqual(sent, []);
});

Deno.test("runPowerAction(): a reset with an unknown outcome is not resent; the state decides", async () => {
  const { target, sent } = scripted(["Off", "Off", "PoweringOn", "On", "On"], { reply: { kind: "unknown" } });
  assert.deepEqual((await runPowerAction(target, "on", FAST)).sent, ["On"]);
  assert.deepEqual(sent, ["On"]);
  const stuck = scripted(["Off"], { reply: { kind: "unknown" } });
  await assert.rejects(runPowerAction(stuck.target, "on", FAST), PowerTransitionError);
  assert.deepEqual(stuck.sent, ["On"]);
});

Deno.test("runPowerAction(): a graceful reset's failed task leads to the forced one; a forced reset's fails the action", async () => {
  const task: TaskOutcome = { ok: false, problem: "the BMC's task 7 ended Exception" };
  const reply: ResetReply = { kind: "accepted", taskMonitor: "/t/7" };
  // GracefulShutdown's task fails and the system stays On; ForceOff's task ends well.
  const graceful = scripted(["On", "On", "On", "Off"], { reply, tasks: [task, { ok: true }] });
  const result = await runPowerAction(graceful.target, "off", { ...FAST, gracefulTimeoutMs: 5 });
  assert.deepEqual(result.sent, ["GracefulShutdown", "ForceOff"]);
  const forced = scripted(["On"], { reply, tasks: [task], resetTypes: ["ForceOff"] });
  const error = await runPowerAction(forced.target, "off", FAST).catch((e) => e);
  assert.ok(error instanceof PowerTransitionError);
  assert.equal(error.problem, "the BMC's task 7 ended Exception");
});

Deno.test("runPowerAction(): a read that fails otherwise than transiently ends the action with that error", async () => {
  const { target } = scripted(["Off", "unreachable"]);
  await assert.rejects(runPowerAction(target, "on", FAST), /not a transient error/);
});

Deno.test("runPowerAction(): bad timings are refused with RangeError", async () => {
  const { target } = scripted(["On"]);
  await assert.rejects(runPowerAction(target, "off", { pollIntervalMs: -1 }), RangeError);
});
