/**
 * The command line of `deno task bmc-sim`: flags to {@link BmcSimFlags},
 * with the usage text that lists every flag and its default.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** What the flags ask for. */
export interface BmcSimFlags {
  bmcs: number;
  systemsPerBmc: number;
  latencyMs: number | { min: number; max: number } | undefined;
  auth: "session" | "basic";
  hostname: string;
  transitionMs: number | undefined;
  inventoryPath: string | undefined;
  credentialsPath: string | undefined;
  controlPort: number | undefined;
}

/** The usage text, listing every flag and its default. */
export const USAGE = `Usage: deno task bmc-sim [flags]

Runs simulated Redfish BMCs, one port each, until SIGINT or SIGTERM, and
prints one line per listening BMC (and the control endpoint). User name
"admin"; the password is generated per run (see --write-credentials).

Flags:
  --bmcs N                   BMCs to run (default 1)
  --systems-per-bmc K        ComputerSystems behind each BMC (default 1)
  --latency MS | MIN-MAX     delay every reply by MS, or uniformly MIN..MAX ms (default none)
  --auth session|basic       session: SessionService and HTTP Basic; basic: HTTP Basic only (default session)
  --hostname HOST            where the BMCs listen (default 127.0.0.1)
  --transition-ms MS         time spent powering on / off (default 500)
  --write-inventory FILE     write an inventory YAML listing every system as a machine
  --write-credentials FILE   write the credentials YAML ("sim": user name and password), mode 0600
  --control-port P           serve GET /_sim/stats and POST /_sim/faults on 127.0.0.1:P
  --help                     this text
`;

/**
 * The flags, or "help".
 * @throws {TypeError} for an unknown flag, a missing value or a positional argument (from parseArgs)
 * @throws {RangeError} for a value that is not what the flag takes
 */
export function parseFlags(args: readonly string[]): BmcSimFlags | "help" {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      bmcs: { type: "string", default: "1" },
      "systems-per-bmc": { type: "string", default: "1" },
      latency: { type: "string" },
      auth: { type: "string", default: "session" },
      hostname: { type: "string", default: "127.0.0.1" },
      "transition-ms": { type: "string" },
      "write-inventory": { type: "string" },
      "write-credentials": { type: "string" },
      "control-port": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";
  const integer = (flag: string, text: string | undefined, { min = 0, max = Infinity } = {}): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(
        `--${flag} must be an integer ${max === Infinity ? `>= ${min}` : `from ${min} to ${max}`}: ` +
          `current value is ${JSON.stringify(text)}`,
      );
    }
    return value;
  };
  if (values.auth !== "session" && values.auth !== "basic") {
    throw new RangeError(`--auth must be "session" or "basic": current value is ${JSON.stringify(values.auth)}`);
  }
  return {
    bmcs: integer("bmcs", values.bmcs, { min: 1 }) ?? 1,
    systemsPerBmc: integer("systems-per-bmc", values["systems-per-bmc"], { min: 1 }) ?? 1,
    latencyMs: parseLatency(values.latency),
    auth: values.auth,
    hostname: values.hostname,
    transitionMs: integer("transition-ms", values["transition-ms"]),
    inventoryPath: values["write-inventory"],
    credentialsPath: values["write-credentials"],
    controlPort: integer("control-port", values["control-port"], { max: 65535 }),
  };
}

/** "200" or "200-2000". */
function parseLatency(text: string | undefined): number | { min: number; max: number } | undefined {
  if (text === undefined) return undefined;
  const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  if (!match || (match[2] !== undefined && Number(match[2]) < Number(match[1]))) {
    throw new RangeError(`--latency must be MS or MIN-MAX (MIN <= MAX): current value is ${JSON.stringify(text)}`);
  }
  return match[2] === undefined ? Number(match[1]) : { min: Number(match[1]), max: Number(match[2]) };
}
