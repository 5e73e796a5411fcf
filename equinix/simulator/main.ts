/**
 * `deno task sim`: the Metal API simulator as a standalone server, so that
 * several Drover replicas (or an operator with curl) can share one simulated
 * provider. Prints the lines to paste into their environment, runs until
 * SIGINT or SIGTERM, then closes cleanly (exit 0). Bad flags (including
 * values `startSimulator` refuses, such as a --project that is not a UUID):
 * usage on stderr, exit 2. See flags.ts for the flags.
 *
 * It also runs Drover's agent, in-process, on a device's machine when asked
 * (`POST /_sim/devices/{id}/agent`), so replicas in other processes get
 * simulated agents (DROVER_SIM_AGENTS). This entry point is where the
 * simulator meets the agent; the simulator module itself knows no agent.
 *
 * @module
 */
import { InProcessAgents, simulatedHardwareReport, validateTakeoverInit } from "../../agent/mod.ts";
import { parseFlags, USAGE } from "./flags.ts";
import { startSimulator } from "./simulator.ts";
import type { SimulatedMachine, Simulator } from "./types.ts";

/** Starts agents on machines, one per device: a new start replaces the running one. */
function agentStarter(agents: InProcessAgents) {
  return async (machine: SimulatedMachine, deviceId: string, init: unknown) => {
    const checked = validateTakeoverInit(init);
    if (!machine.running) await machine.run(() => Promise.resolve()); // throws MachineNotRunningError
    const running = await agents.start(deviceId, machine, checked, {
      hardware: () => Promise.resolve(simulatedHardwareReport(checked.machineId)),
    });
    return running.agent.takeoverReply();
  };
}

async function main(args: readonly string[]): Promise<number> {
  let simulator: Simulator;
  const agents = new InProcessAgents();
  try {
    const options = parseFlags(args);
    if (options === "help") {
      console.log(USAGE);
      return 0;
    }
    simulator = await startSimulator({ ...options, startAgent: agentStarter(agents) });
  } catch (error) {
    // parseArgs throws TypeErrors, the flags' and the simulator's checks RangeErrors: all say what was wrong.
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    console.error(`deno task sim: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  console.log(`EQUINIX_API_URL=${simulator.url}`);
  console.log(`EQUINIX_API_TOKEN=${simulator.token}`);
  console.log(`EQUINIX_PROJECT_ID=${simulator.projectId}`);
  console.error(`Metal API simulator serving; admin endpoint ${simulator.origin}/_sim/; SIGINT or SIGTERM stops it`);

  const stop = Promise.withResolvers<string>();
  const signals = ["SIGINT", "SIGTERM"] as const;
  const handlers = signals.map((signal) => [signal, () => stop.resolve(signal)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  const signal = await stop.promise;
  for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  await agents.close();
  await simulator.close();
  console.error(`Metal API simulator stopped (${signal})`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
