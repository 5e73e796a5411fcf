/**
 * `deno task metal` (equinix/cli.ts) as operators run it: a child process
 * talking to the checked Metal API simulator over loopback.
 *
 * @module
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { type Device, EquinixClient } from "../../equinix/mod.ts";
import type { SimulatorOptions } from "../../equinix/simulator/mod.ts";
import { type CheckedSimulator, startCheckedSimulator } from "../harness/simulator.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FAST_TIMING = { queuedMs: 1, provisioningMs: 1, rebootMs: 20, deprovisionMs: 1 };

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args` (and `stdin` typed in, if given) and waits for it to exit. */
async function metal(args: string[], { env = {}, stdin }: { env?: Record<string, string>; stdin?: string } = {}) {
  return await run(["run", "--allow-net", "--allow-env", "--allow-read", "equinix/cli.ts", ...args], env, stdin);
}

async function run(args: string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    // Empty values count as unset, so the caller's own EQUINIX_* settings never leak into a test.
    env: { NO_COLOR: "1", EQUINIX_API_URL: "", EQUINIX_API_TOKEN: "", EQUINIX_PROJECT_ID: "", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** The simulator's address and credentials, as the operator sets them. */
function envFor(sim: CheckedSimulator): Record<string, string> {
  return { EQUINIX_API_URL: sim.url, EQUINIX_API_TOKEN: sim.token, EQUINIX_PROJECT_ID: sim.projectId };
}

function simTest(name: string, fn: (sim: CheckedSimulator) => Promise<void>, options: SimulatorOptions = {}): void {
  Deno.test(name, async () => {
    await using sim = await startCheckedSimulator({ metros: ["sv"], timing: FAST_TIMING, ...options });
    await fn(sim);
  });
}

/** Creates active devices on the first reservations, with `tags`. */
async function createDevices(sim: CheckedSimulator, tags: string[][]): Promise<Device[]> {
  using client = new EquinixClient({ baseUrl: sim.url, token: sim.token, projectId: sim.projectId, apiRate: 0 });
  const reservations = sim.fleet.reservations();
  const devices: Device[] = [];
  for (const [i, deviceTags] of tags.entries()) {
    const device = await client.createDevice({
      hardware_reservation_id: reservations[i].id,
      plan: reservations[i].plan?.slug ?? "",
      metro: "sv",
      operating_system: "ubuntu_24_04",
      hostname: `node-${i}`,
      tags: deviceTags,
    });
    devices.push(await sim.fleet.waitForState(device.id, "active"));
  }
  return devices;
}

/** The table's rows (header first), split on runs of spaces. */
function rows(table: string): string[][] {
  return table.trimEnd().split("\n").map((line) => line.trim().split(/\s{2,}/));
}

simTest("metal reservations prints a table: id, plan, metro, provisionable, device", async (sim) => {
  const [taken, ...free] = sim.fleet.reservations();
  const theirs = sim.faults.takeReservation(taken.id);
  const result = await metal(["--api-rate-ms", "5", "reservations"], { env: envFor(sim) });
  assert.equal(result.code, 0, result.stderr);
  const [header, ...lines] = rows(result.stdout);
  assert.deepEqual(header, ["ID", "PLAN", "METRO", "PROVISIONABLE", "DEVICE"]);
  assert.equal(lines.length, 3);
  const byId = new Map(lines.map((l) => [l[0], l]));
  assert.deepEqual(byId.get(taken.id)?.slice(3), ["no", theirs.id]);
  for (const r of free) {
    assert.deepEqual(byId.get(r.id)?.slice(1), [r.plan?.slug, "sv", "yes", "-"]);
  }
}, { reservations: 3 });

simTest("metal devices prints a table: id, hostname, state, public IPv4, metro, reservation", async (sim) => {
  const [device] = await createDevices(sim, [[]]);
  const result = await metal(["--api-rate-ms", "5", "devices"], { env: envFor(sim) });
  assert.equal(result.code, 0, result.stderr);
  const [header, ...lines] = rows(result.stdout);
  assert.deepEqual(header, ["ID", "HOSTNAME", "STATE", "PUBLIC IPV4", "METRO", "RESERVATION"]);
  assert.deepEqual(lines, [[
    device.id,
    "node-0",
    "active",
    sim.fleet.machine(device.id)?.publicIPv4,
    "sv",
    sim.fleet.reservations()[0].id,
  ]]);
}, { reservations: 1 });

simTest("metal reboot reboots the device", async (sim) => {
  const [device] = await createDevices(sim, [[]]);
  const result = await metal(["--api-rate-ms", "5", "reboot", device.id], { env: envFor(sim) });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, new RegExp(`Rebooting device ${device.id}`));
  assert.equal(sim.stats.byOperation.performAction, 1);
  await sim.fleet.waitForState(device.id, "active");
  assert.equal(sim.fleet.machine(device.id)?.boots, 2);
}, { reservations: 1 });

simTest("metal delete --all-tagged shows the devices and deletes only after the typed count", async (sim) => {
  const devices = await createDevices(sim, [["batch"], ["batch"], ["keep"]]);
  const env = envFor(sim);
  const args = ["--api-rate-ms", "5", "delete", "--all-tagged", "batch"];

  const wrong = await metal(args, { env, stdin: "3\n" });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /nothing was deleted/);
  assert.match(wrong.stdout, /About to delete 2 device\(s\)/);
  assert.ok(wrong.stdout.includes(devices[0].id) && wrong.stdout.includes(devices[1].id));
  assert.ok(!wrong.stdout.includes(devices[2].id), "the untagged device is not listed");
  assert.equal(sim.stats.byOperation.deleteDevice ?? 0, 0);

  const none = await metal(args, { env, stdin: "" });
  assert.equal(none.code, 1, "no answer (end of input) deletes nothing");
  assert.equal(sim.stats.byOperation.deleteDevice ?? 0, 0);

  const right = await metal(args, { env, stdin: "2\n" });
  assert.equal(right.code, 0, right.stderr);
  assert.equal(sim.stats.byOperation.deleteDevice, 2);
  await sim.fleet.waitForState(devices[0].id, "deleted");
  await sim.fleet.waitForState(devices[1].id, "deleted");
  assert.equal(sim.fleet.device(devices[2].id)?.state, "active");
}, { reservations: 3 });

simTest("metal delete <ids> --yes=<count> must match the count", async (sim) => {
  const [a, b] = await createDevices(sim, [[], []]);
  const env = envFor(sim);
  const wrong = await metal(["--api-rate-ms", "5", "delete", a.id, "--yes=2"], { env });
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /--yes=2 does not match the 1 device/);
  assert.equal(sim.stats.byOperation.deleteDevice ?? 0, 0);

  const right = await metal(["--api-rate-ms", "5", "delete", a.id, "--yes=1"], { env });
  assert.equal(right.code, 0, right.stderr);
  await sim.fleet.waitForState(a.id, "deleted");
  assert.equal(sim.fleet.device(b.id)?.state, "active");
}, { reservations: 2 });

simTest("metal delete of a device not in the project deletes nothing and exits 1", async (sim) => {
  const [a] = await createDevices(sim, [[]]);
  const stranger = crypto.randomUUID();
  const result = await metal(["--api-rate-ms", "5", "delete", a.id, stranger, "--yes=2"], { env: envFor(sim) });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`not in project .*${stranger}`));
  assert.equal(sim.stats.byOperation.deleteDevice ?? 0, 0);
}, { reservations: 1 });

simTest("an API error is one line on stderr, exit 1, without the token", async (sim) => {
  const result = await metal(["--api-rate-ms", "5", "reboot", crypto.randomUUID()], { env: envFor(sim) });
  assert.equal(result.code, 1);
  const lines = result.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0], /^metal: .*HTTP 404 from rebootDevice/);
  assert.ok(!result.stderr.includes(sim.token));
});

simTest("flags override the environment", async (sim) => {
  const result = await metal([
    "--api-url",
    sim.url,
    "--token",
    sim.token,
    "--project",
    sim.projectId,
    "--api-rate-ms",
    "5",
    "devices",
  ], { env: { EQUINIX_API_URL: "http://127.0.0.1:9/metal/v1", EQUINIX_API_TOKEN: "wrong" } });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^ID\s+HOSTNAME/);
});

Deno.test("bad arguments or missing configuration print the usage and exit 2", async () => {
  const env = {
    EQUINIX_API_URL: "http://127.0.0.1:9/metal/v1",
    EQUINIX_API_TOKEN: "t",
    EQUINIX_PROJECT_ID: crypto.randomUUID(),
  };
  const cases: [string[], Record<string, string>, RegExp][] = [
    [[], env, /missing command/],
    [["frobnicate"], env, /unknown command "frobnicate"/],
    [["reboot"], env, /reboot takes exactly one device id/],
    [["reboot", "not-a-uuid"], env, /"not-a-uuid" is not a device id/],
    [["reboot", crypto.randomUUID(), "--yes=1"], env, /--all-tagged and --yes are for delete, not reboot/],
    [["devices", "--all-tagged", "x"], env, /--all-tagged and --yes are for delete, not devices/],
    [["devices", "--bogus"], env, /Unknown option '--bogus'/],
    [["delete"], env, /delete needs device ids or --all-tagged/],
    [["delete", "--all-tagged", "x", "--yes=two"], env, /--yes must be a count/],
    [["--api-rate-ms", "fast", "devices"], env, /--api-rate-ms must be a whole number/],
    [["devices"], { ...env, EQUINIX_API_TOKEN: "" }, /no API token/],
    [["devices"], { ...env, EQUINIX_PROJECT_ID: "" }, /no project/],
    [["devices"], { ...env, EQUINIX_PROJECT_ID: "p1" }, /projectId must be a UUID/],
  ];
  const results = await Promise.all(cases.map(([args, caseEnv]) => metal(args, { env: caseEnv })));
  for (const [i, result] of results.entries()) {
    const [args, , message] = cases[i];
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(" "));
    assert.match(result.stderr, /Usage: deno task metal/, args.join(" "));
    assert.equal(result.stdout, "");
  }
});

Deno.test("deno task metal --help prints the usage on stdout and exits 0", async () => {
  const result = await run(["task", "metal", "--help"], {});
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /^Usage: deno task metal/);
  assert.match(result.stdout, /delete --all-tagged <tag>/);
});
