/**
 * `deno task metal`: an operator's view of the Metal project Drover manages
 * (like Monogon's metal CLI). Lists reservations and devices, reboots a
 * device, and deletes devices after the operator types their count back.
 *
 * Configuration: `EQUINIX_API_URL` (default the public API),
 * `EQUINIX_API_TOKEN`, `EQUINIX_PROJECT_ID`; the flags `--api-url`, `--token`
 * and `--project` override them. Exit status: 0 done, 1 the API (or the
 * confirmation) said no, 2 bad arguments or configuration.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { EquinixClient } from "./client.ts";
import { DEFAULTS } from "./config.ts";
import { type Device, type HardwareReservation, isUuid } from "./schemas.ts";

const DEFAULT_API_URL = "https://api.equinix.com/metal/v1";

const USAGE = `Usage: deno task metal [options] <command> [arguments]

Commands:
  reservations                 list the project's hardware reservations
  devices                      list the project's devices
  reboot <device-id>           reboot a device
  delete <device-id>...        delete devices: shows them, then asks you to type their count
  delete --all-tagged <tag>    delete every device carrying <tag> (same confirmation)

Options:
  --api-url <url>       API base (env EQUINIX_API_URL; default ${DEFAULT_API_URL})
  --token <token>       API token (env EQUINIX_API_TOKEN; prefer the variable: flags show in ps)
  --project <uuid>      project id (env EQUINIX_PROJECT_ID)
  --api-rate-ms <ms>    least time between two API requests (default ${DEFAULTS.apiRate})
  --yes=<count>         delete without asking; <count> must equal the number of devices to delete
  -h, --help            show this help
`;

/** Bad arguments or configuration: usage on stderr, exit 2. */
class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** Where the CLI reads and writes (the real terminal, unless a test says otherwise). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** The next line the operator types, without its newline; undefined at end of input. */
  readLine(): Promise<string | undefined>;
  env(name: string): string | undefined;
}

/** Runs the CLI with `args`; resolves with the exit status. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parse(args, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`metal: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    io.out(USAGE);
    return 0;
  }
  using client = parsed.client;
  try {
    return await parsed.run(client, io);
  } catch (error) {
    // One line: the client's errors carry the API's message, the status and the operation (never the token).
    io.err(`metal: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

type Command = (client: EquinixClient, io: CliIo) => Promise<number>;

function parse(args: string[], io: CliIo): "help" | { client: EquinixClient; run: Command } {
  let values, positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        "api-url": { type: "string" },
        "token": { type: "string" },
        "project": { type: "string" },
        "api-rate-ms": { type: "string" },
        "yes": { type: "string" },
        "all-tagged": { type: "string" },
        "help": { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    // parseArgs throws a TypeError naming the unknown or malformed option.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return "help";
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError("missing command");
  if (command !== "delete" && (values["all-tagged"] !== undefined || values.yes !== undefined)) {
    throw new UsageError(`--all-tagged and --yes are for delete, not ${command}`);
  }

  let run: Command;
  switch (command) {
    case "reservations":
    case "devices":
      if (rest.length > 0) throw new UsageError(`${command} takes no arguments, got "${rest.join(" ")}"`);
      run = command === "reservations" ? listReservations : listDevices;
      break;
    case "reboot": {
      if (rest.length !== 1) throw new UsageError("reboot takes exactly one device id");
      const id = deviceId(rest[0]);
      run = (client, io) => reboot(client, io, id);
      break;
    }
    case "delete":
      run = deleteCommand(rest, values["all-tagged"], values.yes);
      break;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }

  const baseUrl = values["api-url"] ?? io.env("EQUINIX_API_URL") ?? DEFAULT_API_URL;
  const token = values.token ?? io.env("EQUINIX_API_TOKEN");
  const projectId = values.project ?? io.env("EQUINIX_PROJECT_ID");
  if (token === undefined || token === "") throw new UsageError("no API token: set EQUINIX_API_TOKEN or --token");
  if (projectId === undefined || projectId === "") {
    throw new UsageError("no project: set EQUINIX_PROJECT_ID or --project");
  }
  // Undefined leaves the client's default.
  const apiRate = milliseconds("--api-rate-ms", values["api-rate-ms"]);
  try {
    return { client: new EquinixClient({ baseUrl, token, projectId, apiRate }), run };
  } catch (error) {
    // The client names the bad option (and never echoes the token).
    if (error instanceof TypeError || error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

function deviceId(text: string): string {
  if (!isUuid(text)) {
    throw new UsageError(`"${text}" is not a device id (a UUID)`);
  }
  return text.toLowerCase();
}

function milliseconds(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`${flag} must be a whole number of milliseconds, got "${text}"`);
  return Number(text);
}

async function listReservations(client: EquinixClient, io: CliIo): Promise<number> {
  const reservations = await client.listReservations();
  io.out(table(["ID", "PLAN", "METRO", "PROVISIONABLE", "DEVICE"], reservations.map(reservationRow)));
  return 0;
}

function reservationRow(r: HardwareReservation): string[] {
  return [
    r.id,
    r.plan?.slug ?? "-",
    // A reservation's metro is its facility's.
    r.facility?.metro?.code ?? "-",
    r.provisionable === undefined ? "-" : r.provisionable ? "yes" : "no",
    r.device === undefined ? "-" : r.device.id ?? "?",
  ];
}

async function listDevices(client: EquinixClient, io: CliIo): Promise<number> {
  const devices = await client.listDevices();
  io.out(deviceTable(devices));
  return 0;
}

function deviceTable(devices: Device[]): string {
  return table(["ID", "HOSTNAME", "STATE", "PUBLIC IPV4", "METRO", "RESERVATION"], devices.map(deviceRow));
}

function deviceRow(d: Device): string[] {
  const ipv4 = d.ip_addresses?.find((a) => a.public === true && a.address_family === 4)?.address;
  return [
    d.id,
    d.hostname ?? "-",
    d.state,
    ipv4 ?? "-",
    d.metro?.code ?? d.facility?.code ?? "-",
    d.hardware_reservation === undefined ? "-" : d.hardware_reservation.id ?? "?",
  ];
}

async function reboot(client: EquinixClient, io: CliIo, id: string): Promise<number> {
  await client.rebootDevice(id);
  io.out(`Rebooting device ${id}.\n`);
  return 0;
}

/** `delete <id>...` or `delete --all-tagged <tag>`, with the typed (or `--yes`) count. */
function deleteCommand(ids: string[], tag: string | undefined, yes: string | undefined): Command {
  if (ids.length > 0 && tag !== undefined) throw new UsageError("delete takes device ids or --all-tagged, not both");
  if (ids.length === 0 && tag === undefined) throw new UsageError("delete needs device ids or --all-tagged <tag>");
  if (tag === "") throw new UsageError("--all-tagged needs a tag");
  const wanted = new Set(ids.map(deviceId));
  if (yes !== undefined && !/^\d+$/.test(yes)) throw new UsageError(`--yes must be a count, got "${yes}"`);

  return async (client, io) => {
    const devices = await client.listDevices();
    let targets: Device[];
    if (tag !== undefined) {
      targets = devices.filter((d) => d.tags?.includes(tag));
      if (targets.length === 0) {
        io.out(`No device is tagged "${tag}"; nothing to delete.\n`);
        return 0;
      }
    } else {
      targets = devices.filter((d) => wanted.has(d.id));
      const missing = [...wanted].filter((id) => !targets.some((d) => d.id === id));
      if (missing.length > 0) {
        io.err(`metal: not in project ${client.projectId}: ${missing.join(", ")}; nothing was deleted\n`);
        return 1;
      }
    }

    const count = String(targets.length);
    io.out(`About to delete ${count} device(s):\n${deviceTable(targets)}`);
    if (yes !== undefined) {
      if (yes !== count) {
        io.err(`metal: --yes=${yes} does not match the ${count} device(s) to delete; nothing was deleted\n`);
        return 1;
      }
    } else {
      io.out(`Type ${count} to delete them: `);
      const typed = (await io.readLine())?.trim();
      if (typed !== count) {
        io.err(`metal: ${typed === undefined ? "no answer" : `"${typed}"`} is not ${count}; nothing was deleted\n`);
        return 1;
      }
    }

    let deleted = 0;
    for (const device of targets) {
      try {
        await client.deleteDevice(device.id);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        io.err(`metal: deleted ${deleted} of ${count}, then deleting ${device.id} failed: ${why}\n`);
        return 1;
      }
      deleted++;
      io.out(`Deleted ${device.id} (${device.hostname ?? "no hostname"}).\n`);
    }
    return 0;
  };
}

/** Left-aligned columns, two spaces apart, one line per row. */
function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd() + "\n";
  return line(headers) + rows.map(line).join("");
}

/** The terminal. */
function terminal(): CliIo {
  const encoder = new TextEncoder();
  let lines: AsyncIterator<string> | undefined;
  return {
    out: (text) => writeAll(Deno.stdout, encoder.encode(text)),
    err: (text) => writeAll(Deno.stderr, encoder.encode(text)),
    readLine: async () => {
      lines ??= readLines(Deno.stdin.readable);
      const next = await lines.next();
      return next.done ? undefined : next.value;
    },
    env: (name) => Deno.env.get(name),
  };
}

/** writeSync may write less than it was given (a full pipe): go on until all is out. */
function writeAll(file: { writeSync(bytes: Uint8Array): number }, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) written += file.writeSync(bytes.subarray(written));
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of stream) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      yield buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
    }
  }
  buffer += decoder.decode();
  if (buffer !== "") yield buffer;
}

if (import.meta.main) {
  Deno.exit(await runCli(Deno.args, terminal()));
}
