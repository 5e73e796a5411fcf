/**
 * The service's configuration, from the environment and the command line
 * (a flag wins over its variable), validated at start: every problem is
 * reported at once, each with the setting's name and what was wrong, and no
 * secret is ever printed.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { parseRate, type TokenBucketOptions } from "../loops/mod.ts";
import { InvalidArgumentError } from "../bmdb/errors.ts";
import { parsePostgresUrl } from "../bmdb/postgres_url.ts";

/** One setting: its variable, its flag, its default and what it does (for --help). */
interface Setting {
  env: string;
  flag: string;
  default?: string;
  secret?: boolean;
  help: string;
}

/** Every setting, in --help order. */
export const SETTINGS = [
  { env: "DROVER_LISTEN", flag: "listen", default: "127.0.0.1:8080", help: "host:port the server listens on" },
  {
    env: "DROVER_ADMIN_TOKEN",
    flag: "admin-token",
    secret: true,
    help: "admin token (default: generated once and kept in the data dir)",
  },
  { env: "DROVER_READONLY_TOKEN", flag: "readonly-token", secret: true, help: "read-only token (default: none)" },
  { env: "DATABASE_URL", flag: "database-url", secret: true, help: "PostgreSQL/CockroachDB URL (default: PGlite)" },
  {
    env: "DROVER_DATABASE_WAIT",
    flag: "database-wait",
    default: "5m",
    help: "at start, how long to wait for PostgreSQL to answer and take writes (0s: not at all)",
  },
  { env: "DROVER_DATA_DIR", flag: "data-dir", default: "./data", help: "embedded database and generated token" },
  { env: "ETCD_ENDPOINTS", flag: "etcd-endpoints", help: "comma-separated etcd URLs (default: in-memory values)" },
  { env: "EQUINIX_API_URL", flag: "equinix-api-url", help: "Metal API base URL (default: simulator in-process)" },
  { env: "EQUINIX_API_TOKEN", flag: "equinix-api-token", secret: true, help: "Metal API token" },
  { env: "EQUINIX_PROJECT_ID", flag: "equinix-project-id", help: "Metal project UUID" },
  {
    env: "EQUINIX_API_RATE",
    flag: "equinix-api-rate",
    default: "2s",
    help: "least time between two Metal API requests (the API's rate limit)",
  },
  {
    env: "DROVER_INVENTORY",
    flag: "inventory",
    help: "YAML (or JSON) file of machines you own (re-read when it changes, and on SIGHUP)",
  },
  {
    env: "DROVER_BMC_CREDENTIALS",
    flag: "bmc-credentials",
    help: "YAML file of BMC credentials, name: { username, password } (mode 0600)",
  },
  {
    env: "DROVER_BMC_CONCURRENCY",
    flag: "bmc-concurrency",
    default: "64",
    help: "Redfish requests in flight over all BMCs (one per BMC at most)",
  },
  {
    env: "DROVER_BMC_TIMEOUT",
    flag: "bmc-timeout",
    default: "30s",
    help: "a Redfish request without a reply this long fails",
  },
  {
    env: "DROVER_BMC_GRACEFUL_TIMEOUT",
    flag: "bmc-graceful-timeout",
    default: "2m",
    help: "a graceful shutdown or restart not seen this long is forced",
  },
  {
    env: "DROVER_DEMO",
    flag: "demo",
    default: "true",
    help: "embedded only: the simulated fleet misbehaves on purpose (work to cancel, backoffs to retry)",
  },
  {
    env: "DROVER_SIM_OWNED_FLEET",
    flag: "sim-owned-fleet",
    default: "0",
    help:
      "demo: this many simulated machines you own (Redfish BMC simulator in-process) instead of the Metal simulator",
  },
  { env: "DROVER_SSH_KEY", flag: "ssh-key", help: "file with the SSH private key for agent start" },
  { env: "DROVER_AGENT_PATH", flag: "agent-path", help: "the agent file to upload (deno task build:agent)" },
  {
    env: "EQUINIX_REQUEST_TIMEOUT",
    flag: "equinix-request-timeout",
    default: "30s",
    help: "a Metal API request without a reply this long is retried (how a lost reply shows)",
  },
  {
    env: "DROVER_SIM_AGENTS",
    flag: "sim-agents",
    default: "false",
    help: "EQUINIX_API_URL is a deno task sim: start simulated agents through it",
  },
  {
    env: "DROVER_AGENT_URL",
    flag: "agent-url",
    help: "the server's URL as machines reach it (default: http://<listen>)",
  },
  { env: "DROVER_MAX_DEVICES", flag: "max-devices", default: "8", help: "devices the provisioner creates up to" },
  {
    env: "DROVER_SIM_RESERVATIONS",
    flag: "sim-reservations",
    default: "8",
    help: "in-process simulator's reservations",
  },
  { env: "DROVER_INITIALIZER_PARALLELISM", flag: "initializer-parallelism", default: "2", help: "agent-start workers" },
  { env: "DROVER_RECOVERER_PARALLELISM", flag: "recoverer-parallelism", default: "1", help: "recovery workers" },
  { env: "DROVER_DB_RATE", flag: "db-rate", default: "250ms,8", help: "claims' DB limiter: interval,burst" },
  {
    env: "DROVER_DEVICE_CREATION_RATE",
    flag: "device-creation-rate",
    default: "2s,5",
    help: "device creations: interval,burst",
  },
  {
    env: "DROVER_PROVISIONER_INTERVAL",
    flag: "provisioner-interval",
    default: "30s",
    help: "between provisioner passes (embedded: 2s)",
  },
  {
    env: "DROVER_UPDATER_INTERVAL",
    flag: "updater-interval",
    default: "60s",
    help: "between updater sweeps of the provider's devices (embedded: 500ms)",
  },
  {
    env: "DROVER_AGENT_HEARTBEAT_INTERVAL",
    flag: "agent-heartbeat-interval",
    default: "5s",
    help: "between an agent's heartbeats",
  },
  {
    env: "DROVER_AGENT_START_TIMEOUT",
    flag: "agent-start-timeout",
    default: "30m",
    help: "an agent silent this long after its start is recovered",
  },
  {
    env: "DROVER_AGENT_HEARTBEAT_TIMEOUT",
    flag: "agent-heartbeat-timeout",
    default: "10m",
    help: "an agent silent this long after a heartbeat is recovered",
  },
  {
    env: "DROVER_JANITOR_GRACE",
    flag: "janitor-grace",
    default: "5m",
    help: "sessions expired this long are deleted (their work released as Expired)",
  },
  { env: "DROVER_JANITOR_INTERVAL", flag: "janitor-interval", default: "60s", help: "between janitor passes" },
  { env: "DROVER_LOG_FORMAT", flag: "log-format", default: "text", help: "text or json (one object per line)" },
  { env: "DROVER_LOG_LEVEL", flag: "log-level", default: "info", help: "debug, info, warn or error" },
] as const satisfies readonly Setting[];

/** The service's configuration, validated. */
export interface Config {
  listen: { hostname: string; port: number };
  adminToken?: string;
  readonlyToken?: string;
  databaseUrl?: string;
  /** At start, how long to wait for PostgreSQL to answer and take writes. */
  databaseWaitMs: number;
  dataDir: string;
  etcdEndpoints?: string[];
  equinix?: { apiUrl: string; apiToken: string; projectId: string; apiRateMs: number; requestTimeoutMs: number };
  ssh?: { keyPath: string; agentPath: string };
  /** Machines you own. */
  inventory?: { path: string; credentialsPath?: string };
  bmc: { concurrency: number; requestTimeoutMs: number; gracefulTimeoutMs: number };
  /** Demo: simulated machines you own in-process (0: off). */
  simOwnedFleet: number;
  /**
   * The embedded Metal simulator's fleet misbehaves on purpose (DROVER_DEMO, on by default): only when no real
   * provider and no simulated owned fleet is configured.
   */
  demo: boolean;
  /** Start agents through the standalone simulator at `equinix.apiUrl`. */
  simAgents: boolean;
  agentUrl: string;
  maxDevices: number;
  simReservations: number;
  initializerParallelism: number;
  recovererParallelism: number;
  dbRate: TokenBucketOptions;
  deviceCreationRate: TokenBucketOptions;
  agentHeartbeatIntervalSeconds: number;
  recoveryTimeouts: { startTimeoutSeconds: number; heartbeatTimeoutSeconds: number };
  /** DROVER_AGENT_HEARTBEAT_TIMEOUT was left at its default (the demo picks a shorter one). */
  heartbeatTimeoutDefaulted: boolean;
  janitorGraceSeconds: number;
  janitorIntervalMs: number;
  /** Undefined when left at the default: the embedded mode picks quicker ones. */
  provisionerIntervalMs?: number;
  updaterIntervalMs?: number;
  logFormat: "text" | "json";
  logLevel: "debug" | "info" | "warn" | "error";
}

/** `--help`: every setting with its variable, flag and default. */
export function usage(command = "deno task start"): string {
  const lines = SETTINGS.map((s) => {
    const flag = `--${s.flag}`.padEnd(27);
    const env = s.env.padEnd(31);
    const fallback = "default" in s ? ` (default ${s.default})` : "";
    return `  ${flag} ${env} ${s.help}${fallback}`;
  });
  return `Usage: ${command} [flags]

Drover: a bare-metal fleet control plane. With nothing set it runs embedded: PGlite under the data dir, the
Metal API simulator and simulated agents in-process, and prints a login URL. Machines you own come from
--inventory (their BMCs over Redfish, their OS over SSH). Each flag may be given as its environment variable
instead; a flag wins.

  flag                        variable                        meaning
${lines.join("\n")}
  --help                                                      this text`;
}

/** A configuration that cannot be used; `problems` lists each, with the setting's name. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

const integer = (min: number, max: number) =>
  z.string().regex(/^\d+$/, "must be a whole number").transform(Number).pipe(z.number().min(min).max(max));

function url(protocols: string[]) {
  return z.string().refine((text) => {
    const u = URL.parse(text);
    return u !== null && protocols.includes(u.protocol);
  }, `must be a URL (${protocols.map((p) => p.slice(0, -1)).join(" or ")})`);
}

const rate = z.string().transform((text, ctx) => {
  try {
    return parseRate(text);
  } catch (error) {
    ctx.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const listen = z.string().transform((text, ctx) => {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) {
    ctx.addIssue({ code: "custom", message: "must be host:port, e.g. 127.0.0.1:8080" });
    return z.NEVER;
  }
  return { hostname: match[1].replace(/^\[|\]$/g, ""), port };
});

/** A connection URL, one host or a list (bmdb/postgres_url.ts says what postgres.js accepts). */
const postgresUrl = z.string().transform((text, ctx) => {
  try {
    return parsePostgresUrl(text).forDriver;
  } catch (error) {
    if (!(error instanceof InvalidArgumentError)) throw error;
    ctx.addIssue({ code: "custom", message: error.problem });
    return z.NEVER;
  }
});

/** Comma-separated etcd client URLs: each http(s)://host:port, no path, none twice. */
const etcdEndpoints = z.string().transform((text, ctx) => {
  const entries = text.split(",").map((s) => s.trim());
  const endpoints: string[] = [];
  entries.forEach((entry, i) => {
    const where = entries.length > 1 ? `entry ${i + 1} of ${entries.length} ("${entry}")` : `"${entry}"`;
    const u = URL.parse(entry);
    if (entry === "") {
      ctx.addIssue({ code: "custom", message: `${where} is empty (a stray comma?)` });
    } else if (!u || (u.protocol !== "http:" && u.protocol !== "https:") || u.hostname === "") {
      ctx.addIssue({ code: "custom", message: `${where} is not a URL like http://etcd1:2379` });
    } else if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.username) {
      ctx.addIssue({ code: "custom", message: `${where} must be scheme://host:port only (no path, query or user)` });
    } else if (endpoints.includes(u.origin)) {
      ctx.addIssue({ code: "custom", message: `${where} is listed twice` });
    } else {
      endpoints.push(u.origin);
    }
  });
  return endpoints;
});

const token = z.string().min(16, "must be at least 16 characters");

const duration = (min: number, minText: string) =>
  z.string().transform((text, ctx) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
    const ms = match ? Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"] : NaN;
    if (!(ms >= min && ms <= 86_400_000)) {
      ctx.addIssue({ code: "custom", message: `must be a duration from ${minText} to 24h, like 500ms, 30s or 5m` });
      return z.NEVER;
    }
    return ms;
  });

const schema = z.object({
  DROVER_LISTEN: listen,
  DROVER_ADMIN_TOKEN: token.optional(),
  DROVER_READONLY_TOKEN: token.optional(),
  DATABASE_URL: postgresUrl.optional(),
  DROVER_DATABASE_WAIT: duration(0, "0s"),
  DROVER_DATA_DIR: z.string().min(1),
  ETCD_ENDPOINTS: etcdEndpoints.optional(),
  EQUINIX_API_URL: url(["http:", "https:"]).optional(),
  EQUINIX_API_TOKEN: z.string().min(1).optional(),
  EQUINIX_PROJECT_ID: z.uuid("must be a UUID").optional(),
  DROVER_INVENTORY: z.string().min(1).optional(),
  DROVER_BMC_CREDENTIALS: z.string().min(1).optional(),
  DROVER_BMC_CONCURRENCY: integer(1, 10_000),
  DROVER_BMC_TIMEOUT: duration(100, "100ms"),
  DROVER_BMC_GRACEFUL_TIMEOUT: duration(0, "0s"),
  DROVER_SIM_OWNED_FLEET: integer(0, 10_000),
  DROVER_DEMO: z.enum(["true", "false"], "must be true or false").transform((v) => v === "true"),
  DROVER_SSH_KEY: z.string().min(1).optional(),
  DROVER_AGENT_PATH: z.string().min(1).optional(),
  DROVER_SIM_AGENTS: z.enum(["true", "false"], "must be true or false").transform((v) => v === "true"),
  DROVER_AGENT_URL: url(["http:", "https:"]).optional(),
  DROVER_MAX_DEVICES: integer(0, 1_000_000),
  DROVER_SIM_RESERVATIONS: integer(0, 100_000),
  DROVER_INITIALIZER_PARALLELISM: integer(1, 256),
  DROVER_RECOVERER_PARALLELISM: integer(1, 256),
  DROVER_DB_RATE: rate,
  DROVER_DEVICE_CREATION_RATE: rate,
  DROVER_PROVISIONER_INTERVAL: duration(100, "100ms"),
  DROVER_UPDATER_INTERVAL: duration(100, "100ms"),
  EQUINIX_API_RATE: duration(0, "0ms"),
  DROVER_AGENT_HEARTBEAT_INTERVAL: duration(1000, "1s"),
  DROVER_AGENT_START_TIMEOUT: duration(1000, "1s"),
  DROVER_AGENT_HEARTBEAT_TIMEOUT: duration(1000, "1s"),
  DROVER_JANITOR_GRACE: duration(0, "0s"),
  DROVER_JANITOR_INTERVAL: duration(100, "100ms"),
  EQUINIX_REQUEST_TIMEOUT: duration(100, "100ms"),
  DROVER_LOG_FORMAT: z.enum(["text", "json"], "must be text or json"),
  DROVER_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"], "must be debug, info, warn or error"),
});

/** Defaults that depend on how Drover runs. */
export interface ConfigDefaults {
  /** DROVER_AGENT_PATH when DROVER_SSH_KEY is set without it (the executable's embedded agent, release/). */
  agentPath?: string;
}

/**
 * Reads the configuration: `env` (e.g. `Deno.env.toObject()`) overlaid by
 * `args`. Returns "help" for `--help`.
 * @throws {ConfigError} naming every setting that is wrong (never quoting a secret).
 */
export function readConfig(
  env: Record<string, string | undefined>,
  args: string[],
  defaults: ConfigDefaults = {},
): Config | "help" {
  const options = Object.fromEntries(
    [...SETTINGS.map((s) => [s.flag, { type: "string" as const }]), ["help", { type: "boolean" as const }]],
  );
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args, options, strict: true, allowPositionals: false }).values as typeof values;
  } catch (error) {
    throw new ConfigError([(error as Error).message]);
  }
  if (values.help) return "help";

  const raw: Record<string, string | undefined> = {};
  for (const s of SETTINGS) {
    const given = (values[s.flag] as string | undefined) ?? env[s.env];
    raw[s.env] = given === undefined || given === "" ? ("default" in s ? s.default : undefined) : given;
  }
  const parsed = schema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const setting = SETTINGS.find((s) => s.env === issue.path[0])!;
      const shown = "secret" in setting ? "" : `: current value is ${JSON.stringify(raw[setting.env])}`;
      problems.push(`${setting.env} (--${setting.flag}) ${issue.message}${shown}`);
    }
    throw new ConfigError(problems);
  }
  const c = parsed.data;
  const equinixSet = [c.EQUINIX_API_URL, c.EQUINIX_API_TOKEN, c.EQUINIX_PROJECT_ID].filter((v) => v !== undefined);
  if (equinixSet.length > 0 && equinixSet.length < 3) {
    problems.push("EQUINIX_API_URL, EQUINIX_API_TOKEN and EQUINIX_PROJECT_ID go together: set all three or none");
  }
  const agentPath = c.DROVER_AGENT_PATH ?? (c.DROVER_SSH_KEY === undefined ? undefined : defaults.agentPath);
  if ((c.DROVER_SSH_KEY === undefined) !== (agentPath === undefined)) {
    problems.push("DROVER_SSH_KEY and DROVER_AGENT_PATH go together: set both or neither");
  }
  if (c.DROVER_SSH_KEY !== undefined && c.EQUINIX_API_URL === undefined && c.DROVER_INVENTORY === undefined) {
    problems.push(
      "DROVER_SSH_KEY needs a real provider (EQUINIX_API_URL or DROVER_INVENTORY): " +
        "the in-process simulators' machines run simulated agents",
    );
  }
  if (c.DROVER_BMC_CREDENTIALS !== undefined && c.DROVER_INVENTORY === undefined) {
    problems.push("DROVER_BMC_CREDENTIALS needs DROVER_INVENTORY: the credentials are for its machines' BMCs");
  }
  if (c.DROVER_SIM_OWNED_FLEET > 0 && c.DROVER_INVENTORY !== undefined) {
    problems.push("DROVER_SIM_OWNED_FLEET and DROVER_INVENTORY exclude each other: the demo brings its own inventory");
  }
  if (c.DROVER_SIM_AGENTS && c.EQUINIX_API_URL === undefined) {
    problems.push(
      "DROVER_SIM_AGENTS needs EQUINIX_API_URL (a deno task sim): the in-process simulator has its own agents",
    );
  }
  if (c.DROVER_SIM_AGENTS && c.DROVER_SSH_KEY !== undefined) {
    problems.push("DROVER_SIM_AGENTS and DROVER_SSH_KEY exclude each other: agents start one way");
  }
  if (c.DROVER_ADMIN_TOKEN && c.DROVER_ADMIN_TOKEN === c.DROVER_READONLY_TOKEN) {
    problems.push("DROVER_READONLY_TOKEN must differ from DROVER_ADMIN_TOKEN");
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const host = c.DROVER_LISTEN.hostname.includes(":") ? `[${c.DROVER_LISTEN.hostname}]` : c.DROVER_LISTEN.hostname;
  const reachable = host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host;
  return {
    listen: c.DROVER_LISTEN,
    adminToken: c.DROVER_ADMIN_TOKEN,
    readonlyToken: c.DROVER_READONLY_TOKEN,
    databaseUrl: c.DATABASE_URL,
    databaseWaitMs: c.DROVER_DATABASE_WAIT,
    dataDir: c.DROVER_DATA_DIR,
    etcdEndpoints: c.ETCD_ENDPOINTS,
    equinix: c.EQUINIX_API_URL
      ? {
        apiUrl: c.EQUINIX_API_URL,
        apiToken: c.EQUINIX_API_TOKEN!,
        projectId: c.EQUINIX_PROJECT_ID!,
        apiRateMs: c.EQUINIX_API_RATE,
        requestTimeoutMs: c.EQUINIX_REQUEST_TIMEOUT,
      }
      : undefined,
    ssh: c.DROVER_SSH_KEY ? { keyPath: c.DROVER_SSH_KEY, agentPath: agentPath! } : undefined,
    inventory: c.DROVER_INVENTORY
      ? { path: c.DROVER_INVENTORY, ...(c.DROVER_BMC_CREDENTIALS ? { credentialsPath: c.DROVER_BMC_CREDENTIALS } : {}) }
      : undefined,
    bmc: {
      concurrency: c.DROVER_BMC_CONCURRENCY,
      requestTimeoutMs: c.DROVER_BMC_TIMEOUT,
      gracefulTimeoutMs: c.DROVER_BMC_GRACEFUL_TIMEOUT,
    },
    simOwnedFleet: c.DROVER_SIM_OWNED_FLEET,
    demo: c.DROVER_DEMO && !c.EQUINIX_API_URL && !c.DROVER_INVENTORY && c.DROVER_SIM_OWNED_FLEET === 0,
    simAgents: c.DROVER_SIM_AGENTS,
    agentUrl: c.DROVER_AGENT_URL ?? `http://${reachable}:${c.DROVER_LISTEN.port}`,
    maxDevices: c.DROVER_MAX_DEVICES,
    simReservations: c.DROVER_SIM_RESERVATIONS,
    initializerParallelism: c.DROVER_INITIALIZER_PARALLELISM,
    recovererParallelism: c.DROVER_RECOVERER_PARALLELISM,
    dbRate: c.DROVER_DB_RATE,
    deviceCreationRate: c.DROVER_DEVICE_CREATION_RATE,
    agentHeartbeatIntervalSeconds: Math.round(c.DROVER_AGENT_HEARTBEAT_INTERVAL / 1000),
    recoveryTimeouts: {
      startTimeoutSeconds: Math.round(c.DROVER_AGENT_START_TIMEOUT / 1000),
      heartbeatTimeoutSeconds: Math.round(c.DROVER_AGENT_HEARTBEAT_TIMEOUT / 1000),
    },
    heartbeatTimeoutDefaulted: raw.DROVER_AGENT_HEARTBEAT_TIMEOUT === "10m",
    janitorGraceSeconds: Math.round(c.DROVER_JANITOR_GRACE / 1000),
    janitorIntervalMs: c.DROVER_JANITOR_INTERVAL,
    provisionerIntervalMs: raw.DROVER_PROVISIONER_INTERVAL === "30s" ? undefined : c.DROVER_PROVISIONER_INTERVAL,
    updaterIntervalMs: raw.DROVER_UPDATER_INTERVAL === "60s" ? undefined : c.DROVER_UPDATER_INTERVAL,
    logFormat: c.DROVER_LOG_FORMAT,
    logLevel: c.DROVER_LOG_LEVEL,
  };
}
