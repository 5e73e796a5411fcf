import assert from "node:assert/strict";
import { choosePlan, describePlan, planResetTypes, type PowerAction } from "./power_plan.ts";
import type { PowerState, ResetType, SystemState } from "./system_state.ts";

const FULL: ResetType[] = ["On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart", "PushPowerButton"];
const IDRAC9: ResetType[] = [
  "On",
  "ForceOff",
  "ForceRestart",
  "GracefulShutdown",
  "PushPowerButton",
  "Nmi",
  "PowerCycle",
];

function state(
  powerState: PowerState | null,
  resetTypes: ResetType[],
  lastResetTime: string | null = null,
): SystemState {
  return { path: "/redfish/v1/Systems/1", powerState, health: "OK", state: "Enabled", resetTypes, lastResetTime };
}

const T = "2026-12-01T10:00:00Z";

const cases: { name: string; action: PowerAction; state: SystemState; types: ResetType[]; text: string }[] = [
  { name: "on when On sends nothing", action: "on", state: state("On", FULL), types: [], text: "nothing: already On" },
  {
    name: "on when PoweringOn waits",
    action: "on",
    state: state("PoweringOn", FULL),
    types: [],
    text: "nothing: already On",
  },
  { name: "on prefers On", action: "on", state: state("Off", FULL), types: ["On"], text: "On" },
  {
    name: "on falls back to ForceOn",
    action: "on",
    state: state("Off", ["ForceOn", "ForceOff"]),
    types: ["ForceOn"],
    text: "ForceOn",
  },
  {
    name: "on falls back to PushPowerButton",
    action: "on",
    state: state("Off", ["PushPowerButton"]),
    types: ["PushPowerButton"],
    text: "PushPowerButton",
  },
  {
    name: "on of a Paused system resumes",
    action: "on",
    state: state("Paused", ["Resume", "On"]),
    types: ["Resume"],
    text: "Resume",
  },
  { name: "on with unknown power sends On", action: "on", state: state(null, FULL), types: ["On"], text: "On" },
  {
    name: "off when Off sends nothing",
    action: "off",
    state: state("Off", FULL),
    types: [],
    text: "nothing: already Off",
  },
  {
    name: "off graceful then force",
    action: "off",
    state: state("On", FULL),
    types: ["GracefulShutdown", "ForceOff"],
    text: "GracefulShutdown, then ForceOff if not off after 120 s",
  },
  {
    name: "off graceful only",
    action: "off",
    state: state("On", ["On", "GracefulShutdown"]),
    types: ["GracefulShutdown"],
    text: "GracefulShutdown (ForceOff is not allowed: fails if not off after 120 s)",
  },
  {
    name: "off force only",
    action: "off",
    state: state("On", ["On", "ForceOff"]),
    types: ["ForceOff"],
    text: "ForceOff",
  },
  { name: "restart when Off is on", action: "restart", state: state("Off", FULL), types: ["On"], text: "On" },
  {
    name: "restart graceful then ForceRestart with LastResetTime",
    action: "restart",
    state: state("On", FULL, T),
    types: ["GracefulRestart", "ForceRestart"],
    text: "GracefulRestart, then ForceRestart if not restarted after 120 s",
  },
  {
    name: "restart graceful then ForceOff and On without LastResetTime",
    action: "restart",
    state: state("On", FULL),
    types: ["GracefulRestart", "ForceOff", "On"],
    text: "GracefulRestart, then ForceOff, then On if not restarted after 120 s",
  },
  {
    name: "restart on iDRAC 9 with LastResetTime: ForceRestart",
    action: "restart",
    state: state("On", IDRAC9, T),
    types: ["ForceRestart"],
    text: "ForceRestart",
  },
  {
    name: "restart on iDRAC 9 without LastResetTime: PowerCycle",
    action: "restart",
    state: state("On", IDRAC9),
    types: ["PowerCycle"],
    text: "PowerCycle",
  },
  {
    name: "restart with ForceOff and On only",
    action: "restart",
    state: state("On", ["On", "ForceOff"]),
    types: ["ForceOff", "On"],
    text: "ForceOff, then On",
  },
  {
    name: "restart with ForceRestart only, unobservable",
    action: "restart",
    state: state("On", ["ForceRestart"]),
    types: ["ForceRestart"],
    text: "ForceRestart (its effect may not be observable: the BMC reports no LastResetTime)",
  },
  {
    name: "restart graceful only",
    action: "restart",
    state: state("On", ["GracefulRestart"]),
    types: ["GracefulRestart"],
    text: "GracefulRestart (no forced restart is allowed: fails if not restarted after 120 s)",
  },
];

for (const c of cases) {
  Deno.test(`choosePlan(): ${c.name}`, () => {
    const plan = choosePlan(c.action, c.state);
    assert.deepEqual(planResetTypes(plan), c.types);
    assert.equal(describePlan(plan, 120_000), c.text);
  });
}

Deno.test("choosePlan(): an action the allowed ResetTypes cannot do is unsupported", () => {
  assert.deepEqual(choosePlan("on", state("Off", ["ForceOff"])), {
    kind: "unsupported",
    needed: "On, ForceOn or PushPowerButton",
  });
  assert.deepEqual(choosePlan("off", state("On", ["On"])), {
    kind: "unsupported",
    needed: "GracefulShutdown or ForceOff",
  });
  assert.equal(choosePlan("restart", state("On", ["On", "Nmi"])).kind, "unsupported");
});

Deno.test("describePlan() writes fractions of seconds without noise", () => {
  assert.equal(
    describePlan(choosePlan("off", state("On", FULL)), 250),
    "GracefulShutdown, then ForceOff if not off after 0.25 s",
  );
});
