/**
 * `deno task bmc-sim`: runs a fleet of simulated Redfish BMCs until SIGINT
 * or SIGTERM (then closes them cleanly and exits 0). Prints one line per
 * listening BMC, and one for the control endpoint, on stdout; writes the
 * inventory and credentials files when asked. Bad flags: usage on stderr,
 * exit 2. See flags.ts for the flags.
 *
 * @module
 */
import { type ControlServer, startControlServer } from "./control_server.ts";
import { parseFlags, USAGE } from "./flags.ts";
import { startBmcFleet } from "./fleet.ts";
import { writeCredentials, writeInventory } from "./inventory.ts";

const USERNAME = "admin";

async function main(args: readonly string[]): Promise<number> {
  let flags: ReturnType<typeof parseFlags>;
  try {
    flags = parseFlags(args);
  } catch (error) {
    // parseArgs throws TypeErrors, the flags' checks RangeErrors: both say what was wrong.
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    console.error(`deno task bmc-sim: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (flags === "help") {
    console.log(USAGE);
    return 0;
  }

  const password = randomPassword();
  const fleet = await startBmcFleet({
    count: flags.bmcs,
    systems: Array.from({ length: flags.systemsPerBmc }, () => ({ transitionMs: flags.transitionMs })),
    auth: flags.auth,
    hostname: flags.hostname,
    latencyMs: flags.latencyMs,
    username: USERNAME,
    password,
  });
  let control: ControlServer | undefined;
  try {
    if (flags.inventoryPath !== undefined) await writeInventory(flags.inventoryPath, fleet.bmcs);
    if (flags.credentialsPath !== undefined) {
      await writeCredentials(flags.credentialsPath, { username: USERNAME, password });
    }
    if (flags.controlPort !== undefined) control = startControlServer(fleet, flags.controlPort);

    for (const [index, bmc] of fleet.bmcs.entries()) {
      console.log(`BMC ${index + 1} listening on ${bmc.url} (systems: ${bmc.systems.map((s) => s.path).join(", ")})`);
    }
    if (control) console.log(`Control endpoint listening on ${control.url}/_sim/ (GET /_sim/stats, POST /_sim/faults)`);
    if (flags.inventoryPath !== undefined) console.error(`Inventory written to ${flags.inventoryPath}`);
    if (flags.credentialsPath !== undefined) console.error(`Credentials written to ${flags.credentialsPath}`);
    console.error(`${fleet.bmcs.length} BMC(s) serving; SIGINT or SIGTERM stops them`);

    const signal = await stopSignal();
    console.error(`BMC simulator stopping (${signal})`);
  } finally {
    await control?.close();
    await fleet.close();
  }
  return 0;
}

/** Resolves with the first of SIGINT and SIGTERM. */
async function stopSignal(): Promise<string> {
  const stop = Promise.withResolvers<string>();
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => [name, () => stop.resolve(name)] as const);
  for (const [name, handler] of handlers) Deno.addSignalListener(name, handler);
  try {
    return await stop.promise;
  } finally {
    for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  }
}

/** 24 random characters from [A-Za-z0-9]. */
function randomPassword(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(24)), (b) => alphabet[b % alphabet.length]).join("");
}

if (import.meta.main) Deno.exit(await main(Deno.args));
