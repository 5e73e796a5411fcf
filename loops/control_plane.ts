/**
 * All of Drover's loops, started together on one BMDB and one provider:
 * provisioner, updater, initializer, recoverer, janitor and the reservations
 * publisher. One DB query limiter is shared by the claiming loops (the
 * initializer and recoverer runners), as the runner's contract asks.
 *
 * ```ts
 * const plane = startControlPlane({ bmdb, client, starter, agentUrl, registry, logger,
 *   provisioner: { maxDevices: 20 } });
 * // ...
 * await plane.stop(); // work released as Canceled, sessions closed
 * ```
 *
 * @module
 */
import type { Registry } from "prom-client";
import type { Bmdb, Logger } from "../bmdb/mod.ts";
import type { EquinixClient } from "../equinix/mod.ts";
import type { AgentStarter } from "./agent_starter.ts";
import { Initializer, type InitializerOptions } from "./initializer.ts";
import { Janitor, type JanitorOptions } from "./janitor.ts";
import { loopMetrics } from "./metrics.ts";
import { Provisioner, type ProvisionerOptions } from "./provisioner.ts";
import { Recoverer, type RecovererOptions } from "./recoverer.ts";
import { ReservationsPublisher, type ReservationsPublisherOptions, type ReservationStore } from "./reservations.ts";
import { LoopRunner, type LoopRunnerOptions } from "./runner.ts";
import { TokenBucket } from "./token_bucket.ts";
import { Updater, type UpdaterOptions } from "./updater.ts";

type Shared = "registry" | "logger";

/** Runner settings of a claiming loop. */
type RunnerSettings = Pick<
  LoopRunnerOptions,
  "parallelism" | "idleWaitMs" | "maxIdleWaitMs" | "errorPauseMs" | "sessionIntervalSeconds"
>;

export interface ControlPlaneOptions {
  bmdb: Bmdb;
  client: EquinixClient;
  /** Starts agents; without one, the initializer and the recoverer do not run. */
  starter?: AgentStarter;
  /** The server's base URL as agents reach it. */
  agentUrl: string;
  registry: Registry;
  logger: Logger;
  /** The claims' DB query limiter. @default one token per 250 ms, burst 8 */
  dbLimiter?: TokenBucket;
  provisioner: Omit<ProvisionerOptions, Shared | "creationLimiter"> & { creationLimiter?: TokenBucket };
  updater?: Omit<UpdaterOptions, Shared>;
  initializer?: Omit<InitializerOptions, "starter" | "agentUrl"> & RunnerSettings;
  recoverer?: Omit<RecovererOptions, "client"> & RunnerSettings;
  janitor?: Omit<JanitorOptions, Shared>;
  /** Where reservations are published (omit to not publish). */
  reservations?: { store: ReservationStore } & Omit<ReservationsPublisherOptions, "logger">;
}

/** The running loops. */
export interface ControlPlane {
  readonly provisioner: Provisioner;
  readonly updater: Updater;
  /** The loops still running (during a stop: those not stopped yet). */
  running(): string[];
  /** Stops every loop: held work is released as Canceled, sessions closed. Idempotent. */
  stop(): Promise<void>;
}

function runnerOptions(settings: RunnerSettings | undefined) {
  const { parallelism, idleWaitMs, maxIdleWaitMs, errorPauseMs, sessionIntervalSeconds } = settings ?? {};
  return { parallelism, idleWaitMs, maxIdleWaitMs, errorPauseMs, sessionIntervalSeconds };
}

export function startControlPlane(options: ControlPlaneOptions): ControlPlane {
  const { bmdb, client, registry, logger } = options;
  const limiter = options.dbLimiter ?? new TokenBucket({ intervalMs: 250, burst: 8 });
  const metrics = loopMetrics(registry);
  const provisioner = new Provisioner(bmdb, client, {
    ...options.provisioner,
    creationLimiter: options.provisioner.creationLimiter ?? new TokenBucket({ intervalMs: 2000, burst: 5 }),
    registry,
    logger,
  });
  const updater = new Updater(bmdb, client, { ...options.updater, registry, logger });
  const starter = options.starter;
  const initializer = starter && new LoopRunner(
    bmdb,
    new Initializer({ ...options.initializer, starter, agentUrl: options.agentUrl }),
    { ...runnerOptions(options.initializer), limiter, metrics, logger },
  );
  // Recovery restarts agents through the initializer: without a starter, it would only reboot.
  const recoverer = starter && new LoopRunner(
    bmdb,
    new Recoverer({ ...options.recoverer, client }),
    { ...runnerOptions(options.recoverer), limiter, metrics, logger },
  );
  const janitor = new Janitor(bmdb, { ...options.janitor, registry, logger });
  const publisher = options.reservations &&
    new ReservationsPublisher(client, options.reservations.store, { ...options.reservations, logger });

  const stopping = new AbortController();
  const loops: [string, Promise<void> | undefined][] = [
    ["provisioner", provisioner.run(stopping.signal)],
    ["updater", updater.run(stopping.signal)],
    ["initializer", initializer?.run(stopping.signal)],
    ["recoverer", recoverer?.run(stopping.signal)],
    ["janitor", janitor.run(stopping.signal)],
    ["reservations publisher", publisher?.run(stopping.signal)],
  ];
  // Which loops have not stopped yet: a shutdown that runs out of time names them.
  const stillRunning = new Set<string>();
  const running = Promise.all(loops.map(async ([name, run]) => {
    if (!run) return;
    stillRunning.add(name);
    try {
      await run;
    } finally {
      stillRunning.delete(name);
      if (stopping.signal.aborted) logger.debug("loop stopped", { loop: name });
    }
  }));
  let stopped: Promise<void> | undefined;
  return {
    provisioner,
    updater,
    running: () => [...stillRunning],
    stop: () =>
      stopped ??= (async () => {
        stopping.abort(new Error("control plane stopping"));
        await running;
      })(),
  };
}
