/**
 * `deno task start`: Drover, the whole service (server/service.ts), configured
 * from the environment and flags (server/config.ts; `--help` lists them). The
 * one executable (release/) runs the same {@linkcode runDrover} as
 * `drover start`, with its embedded dashboard and agent.
 *
 * Prints one line with the dashboard's login URL. SIGINT or SIGTERM shuts
 * down gracefully (loops stop claiming, held work is released as Canceled,
 * sessions close, event streams end) within 10 s; a second signal exits at
 * once.
 *
 * @module
 */
import { ConfigError, readConfig, usage } from "./server/config.ts";
import { InventoryError } from "./inventory/mod.ts";
import { createLogger } from "./server/logger.ts";
import { startService } from "./server/service.ts";
import type { Hono } from "hono";
import { uiRoutes } from "./server/ui_routes.ts";
import { buildUi, readUiAssets } from "./ui/mod.ts";
import type { Logger } from "./bmdb/mod.ts";

const SHUTDOWN_LIMIT_MS = 10_000;
const PREBUILT_UI = "build/ui";

/**
 * The dashboard: bundled from ui/ now (so it always matches the source),
 * else the copy `deno task build:ui` left in build/ui (bundling needs esbuild,
 * which `deno bundle` fetches from npm on first use).
 */
async function dashboard(logger: Logger): Promise<Hono | undefined> {
  try {
    return uiRoutes(await buildUi());
  } catch (error) {
    try {
      const assets = await readUiAssets(PREBUILT_UI);
      logger.warn("could not bundle the dashboard; serving the one in build/ui", { error });
      return uiRoutes(assets);
    } catch {
      logger.error("no dashboard: bundling failed and build/ui holds none (run deno task build:ui)", { error });
      return undefined;
    }
  }
}

/** How {@linkcode runDrover} is run: `deno task start`, or the executable's `drover start`. */
export interface RunDroverOptions {
  /** The flags (server/config.ts SETTINGS). */
  args: string[];
  /** The command `--help` names. @default "deno task start" */
  command?: string;
  /** The dashboard's routes. @default bundled from ui/ now, else build/ui */
  dashboard?: (logger: Logger) => Promise<Hono | undefined>;
  /** The agent file to upload when `--ssh-key` comes without `--agent-path` (the executable's embedded agent). */
  agentPath?: string;
}

/** Runs Drover until SIGINT or SIGTERM; resolves with the exit code (2: bad configuration). */
export async function runDrover(options: RunDroverOptions): Promise<number> {
  let config;
  try {
    config = readConfig(Deno.env.toObject(), options.args, { agentPath: options.agentPath });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${error.message}\n\nRun with --help for every setting.`);
    return 2;
  }
  if (config === "help") {
    console.log(usage(options.command));
    return 0;
  }
  const logger = createLogger({ format: config.logFormat, level: config.logLevel });

  const started = performance.now();
  let service;
  try {
    service = await startService(config, { logger, ui: (options.dashboard ?? dashboard)(logger) });
  } catch (error) {
    if (error instanceof InventoryError) {
      // Every problem of the inventory and credentials files, by file, line and column: nothing started.
      console.error(`${error.message}\n\nNothing was started: fix the inventory and start again.`);
      return 2;
    }
    logger.error("Drover could not start", { error });
    return 1;
  }
  for (const [part, where] of Object.entries(service.parts)) logger.info(`${part}: ${where}`);
  logger.info("started", { ms: Math.round(performance.now() - started) });
  console.log(
    `Drover is running${service.demo ? " (demo fleet: see the Overview)" : ""}. Dashboard: ${service.loginUrl}`,
  );

  const signalled = Promise.withResolvers<string>();
  let signals = 0;
  const onSignal = (name: string) => () => {
    if (++signals > 1) {
      console.error(`${name} again: exiting at once`);
      Deno.exit(130);
    }
    signalled.resolve(name);
  };
  const handlers = [["SIGINT", onSignal("SIGINT")], ["SIGTERM", onSignal("SIGTERM")]] as const;
  for (const [name, handler] of handlers) Deno.addSignalListener(name, handler);
  // SIGHUP re-reads the inventory file (a problem is logged and shown; the last good inventory keeps running).
  const onHangup = () => {
    logger.info("SIGHUP: re-reading the inventory");
    service.reload().catch((error) => logger.error("inventory reload failed", { error }));
  };
  Deno.addSignalListener("SIGHUP", onHangup);

  const name = await signalled.promise;
  logger.info("shutting down", { signal: name });
  const limit = setTimeout(() => {
    logger.error("shutdown took longer than 10 s: exiting anyway", { stillStopping: service.stopping() });
    Deno.exit(1);
  }, SHUTDOWN_LIMIT_MS);
  await service.stop();
  clearTimeout(limit);
  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  Deno.removeSignalListener("SIGHUP", onHangup);
  logger.info("stopped");
  return 0;
}

if (import.meta.main) Deno.exit(await runDrover({ args: Deno.args }));
