/**
 * Replies real BMCs give and the simulator does not: allowable ResetTypes
 * behind `@Redfish.ActionInfo` or not given at all, a session POST refused
 * with 405, a session `Location` as a full URL, a body that is not JSON, and
 * a task that ends in Exception. A tiny `Deno.serve` BMC of this file's own
 * gives them.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ASSUMED_RESET_TYPES,
  MalformedReplyError,
  PowerTransitionError,
  RedfishError,
  RedfishPool,
} from "../../redfish/mod.ts";
import { FAST, QUICK, rejection } from "./client_fixtures.ts";

/** One route of the tiny BMC: what it answers to `METHOD path`. */
type Route = (request: Request) => Response | Promise<Response>;

/** A tiny BMC serving `routes` (by `METHOD path`), recording every request as `METHOD path`. */
function tinyBmc(routes: Record<string, Route>) {
  const seen: string[] = [];
  const controller = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen() {} }, (request) => {
    const key = `${request.method} ${new URL(request.url).pathname}`;
    seen.push(key);
    const route = routes[key];
    return route ? route(request) : Response.json({ error: { code: "Base.1.0.ResourceNotFound", message: key } }, {
      status: 404,
    });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      controller.abort();
      await server.finished;
    },
  };
}

const ROOT = { Systems: { "@odata.id": "/redfish/v1/Systems" } };
const SYSTEMS = { Members: [{ "@odata.id": "/redfish/v1/Systems/1" }] };
const LOGIN = { username: "root", password: "calvin" };

function system(power: string, reset: Record<string, unknown>) {
  return {
    "@odata.id": "/redfish/v1/Systems/1",
    PowerState: power,
    Status: { State: "Enabled", Health: "OK" },
    Actions: { "#ComputerSystem.Reset": { target: "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", ...reset } },
  };
}

Deno.test("allowable ResetTypes come from @Redfish.ActionInfo (read once), else the assumed five", async () => {
  await using bmc = tinyBmc({
    "GET /redfish/v1/": () => Response.json(ROOT),
    "GET /redfish/v1/Systems": () => Response.json(SYSTEMS),
    "GET /redfish/v1/Systems/1": () =>
      Response.json(system("On", { "@Redfish.ActionInfo": "/redfish/v1/Systems/1/ResetActionInfo" })),
    "GET /redfish/v1/Systems/1/ResetActionInfo": () =>
      Response.json({ Parameters: [{ Name: "ResetType", AllowableValues: ["ForceOff", "On", "OemMagic"] }] }),
    "GET /redfish/v1/Systems/2": () => Response.json(system("On", {})),
  });
  await using pool = new RedfishPool(FAST);
  const client = pool.client({ url: bmc.url, ...LOGIN });
  assert.deepEqual((await client.readSystem(undefined)).resetTypes, ["ForceOff", "On"]);
  await client.readSystem(undefined);
  assert.equal(bmc.seen.filter((s) => s.endsWith("ResetActionInfo")).length, 1);
  assert.deepEqual((await client.readSystem("/redfish/v1/Systems/2")).resetTypes, [...ASSUMED_RESET_TYPES]);
});

Deno.test("a session POST refused with 405: HTTP basic; a session Location given as a URL is deleted by its path", async () => {
  const sessions = { "@odata.id": "/redfish/v1/SessionService/Sessions" };
  const withSessions = { ...ROOT, Links: { Sessions: sessions } };
  await using refusing = tinyBmc({
    "GET /redfish/v1/": () => Response.json(withSessions),
    "POST /redfish/v1/SessionService/Sessions": () => new Response(null, { status: 405 }),
    "GET /redfish/v1/Systems": (r) =>
      r.headers.get("Authorization")?.startsWith("Basic ")
        ? Response.json(SYSTEMS)
        : new Response(null, { status: 401 }),
    "GET /redfish/v1/Systems/1": () => Response.json(system("Off", {})),
  });
  await using pool = new RedfishPool(FAST);
  assert.equal((await pool.client({ url: refusing.url, ...LOGIN }).readSystem(undefined)).powerState, "Off");
  assert.equal(refusing.seen.filter((s) => s.startsWith("POST")).length, 1);

  await using absolute = tinyBmc({
    "GET /redfish/v1/": () => Response.json(withSessions),
    "POST /redfish/v1/SessionService/Sessions": () =>
      new Response(null, {
        status: 201,
        headers: { "X-Auth-Token": "t", Location: "https://bmc.invalid/redfish/v1/SessionService/Sessions/9" },
      }),
    "GET /redfish/v1/Systems": () => Response.json(SYSTEMS),
    "GET /redfish/v1/Systems/1": () => Response.json(system("On", {})),
    "DELETE /redfish/v1/SessionService/Sessions/9": () => new Response(null, { status: 204 }),
  });
  await pool.client({ url: absolute.url, ...LOGIN }).readSystem(undefined);
  await pool.close();
  assert.equal(absolute.seen.at(-1), "DELETE /redfish/v1/SessionService/Sessions/9");
});

Deno.test("a body that is not JSON, or not a system, is a MalformedReplyError naming what was wrong", async () => {
  await using bmc = tinyBmc({
    "GET /redfish/v1/": () => Response.json(ROOT),
    "GET /redfish/v1/Systems": () => new Response("<html>login</html>"),
    "GET /redfish/v1/Systems/1": () => Response.json({ PowerState: 7 }),
  });
  await using pool = new RedfishPool(FAST);
  const client = pool.client({ url: bmc.url, ...LOGIN });
  const notJson = await rejection(client.readSystem(undefined), MalformedReplyError);
  assert.match(notJson.message, /GET \/redfish\/v1\/Systems got HTTP 200: malformed reply: the body is not JSON$/);
  const notSystem = await rejection(client.readSystem("/redfish/v1/Systems/1"), MalformedReplyError);
  assert.ok(notSystem instanceof RedfishError);
  assert.match(notSystem.message, /malformed reply: PowerState: /);
});

Deno.test("a forced reset whose task ends in Exception fails the action with the task's messages", async () => {
  await using bmc = tinyBmc({
    "GET /redfish/v1/": () => Response.json(ROOT),
    "GET /redfish/v1/Systems": () => Response.json(SYSTEMS),
    "GET /redfish/v1/Systems/1": () => Response.json(system("Off", { "ResetType@Redfish.AllowableValues": ["On"] })),
    "POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset": () =>
      new Response(null, { status: 202, headers: { Location: "/redfish/v1/TaskService/TaskMonitors/3" } }),
    "GET /redfish/v1/TaskService/TaskMonitors/3": () =>
      Response.json({
        TaskState: "Exception",
        Messages: [{ MessageId: "Oem.1.0.PowerSupplyFault", Message: "PSU 2 has failed." }],
      }),
  });
  await using pool = new RedfishPool(FAST);
  const error = await rejection(
    pool.client({ url: bmc.url, ...LOGIN }).powerOn(undefined, QUICK),
    PowerTransitionError,
  );
  assert.deepEqual(error.sent, ["On"]);
  assert.equal(
    error.problem,
    "the BMC's task /redfish/v1/TaskService/TaskMonitors/3 ended Exception: PSU 2 has failed.",
  );
});
