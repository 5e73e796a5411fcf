/**
 * The command line of `deno task sim`: flags to {@link SimulatorOptions},
 * with the usage text that lists every flag and its default.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { DEFAULT_METROS, DEFAULT_PLAN, DEFAULT_RESERVATIONS, DEFAULT_TIMING } from "./simulator.ts";
import type { SimulatorOptions } from "./types.ts";

export const DEFAULT_LISTEN = "127.0.0.1:8081";

export const USAGE = `Usage: deno task sim [flags]

Runs the Metal API simulator until SIGINT or SIGTERM, and prints its base
URL, token and project id as EQUINIX_API_URL=, EQUINIX_API_TOKEN= and
EQUINIX_PROJECT_ID= lines. The admin endpoint is at <origin>/_sim/.

Flags:
  --listen HOST:PORT        listen address (default ${DEFAULT_LISTEN})
  --token TOKEN             the X-Auth-Token clients must send (default: random, printed)
  --project UUID            the project id (default: random, printed)
  --reservations N          provisionable reservations at start (default ${DEFAULT_RESERVATIONS})
  --plan SLUG               their plan (default ${DEFAULT_PLAN})
  --metros A,B              metro codes they are spread over (default ${DEFAULT_METROS.join(",")})
  --latency-ms MS           latency added to every API reply (default 0)
  --error-rate R            fraction 0..1 of API requests answered 500 (default 0)
  --lost-reply-rate R       fraction 0..1 of API requests carried out whose reply is never sent (default 0)
  --queued-ms MS            queued → provisioning (default ${DEFAULT_TIMING.queuedMs})
  --provisioning-ms MS      provisioning → active (default ${DEFAULT_TIMING.provisioningMs})
  --reboot-ms MS            reboot, in all (default ${DEFAULT_TIMING.rebootMs})
  --deprovision-ms MS       deprovisioning → gone (default ${DEFAULT_TIMING.deprovisionMs})
  --help                    this text
`;

/**
 * The simulator options the flags ask for, or "help". What they say is
 * checked further by `startSimulator` (a RangeError, e.g. for a --project
 * that is not a UUID); the caller prints either with {@link USAGE}.
 * @throws {TypeError} for an unknown flag, a missing value or a positional argument (from parseArgs)
 * @throws {RangeError} for a value that is not a number in range, or a bad --listen
 */
export function parseFlags(args: readonly string[]): SimulatorOptions | "help" {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      listen: { type: "string", default: DEFAULT_LISTEN },
      token: { type: "string" },
      project: { type: "string" },
      reservations: { type: "string" },
      plan: { type: "string" },
      metros: { type: "string" },
      "latency-ms": { type: "string" },
      "error-rate": { type: "string" },
      "lost-reply-rate": { type: "string" },
      "queued-ms": { type: "string" },
      "provisioning-ms": { type: "string" },
      "reboot-ms": { type: "string" },
      "deprovision-ms": { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) return "help";

  const number = (flag: keyof typeof values, { integer = true, max = Infinity } = {}) => {
    const text = values[flag];
    if (typeof text !== "string") return undefined;
    const value = Number(text);
    if (
      text.trim() === "" || !Number.isFinite(value) || value < 0 || value > max || (integer && !Number.isInteger(value))
    ) {
      const what = `${integer ? "an integer" : "a number"} ${max === Infinity ? ">= 0" : `from 0 to ${max}`}`;
      throw new RangeError(`--${flag} must be ${what}: current value is ${JSON.stringify(text)}`);
    }
    return value;
  };
  const { hostname, port } = listenAddress(values.listen);
  const timing = {
    queuedMs: number("queued-ms"),
    provisioningMs: number("provisioning-ms"),
    rebootMs: number("reboot-ms"),
    deprovisionMs: number("deprovision-ms"),
  };
  const faults = {
    latencyMs: number("latency-ms"),
    serverErrorRate: number("error-rate", { integer: false, max: 1 }),
    lostReplyRate: number("lost-reply-rate", { integer: false, max: 1 }),
  };
  return {
    hostname,
    port,
    token: values.token,
    projectId: values.project,
    reservations: number("reservations"),
    plan: values.plan,
    metros: values.metros?.split(",").map((m) => m.trim()),
    timing: withoutUndefined(timing),
    faults: withoutUndefined(faults),
  };
}

/** "host:port", "[::1]:port". */
function listenAddress(text: string): { hostname: string; port: number } {
  const colon = text.lastIndexOf(":");
  const hostname = text.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(text.slice(colon + 1));
  if (colon <= 0 || hostname === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--listen must be HOST:PORT: current value is ${JSON.stringify(text)}`);
  }
  return { hostname, port };
}

/** The object without its undefined fields (so they do not override defaults). */
function withoutUndefined<T extends object>(object: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as Partial<
    { [K in keyof T]: Exclude<T[K], undefined> }
  >;
}
