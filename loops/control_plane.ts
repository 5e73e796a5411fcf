/**
 * All of Drover's loops, started together on one BMDB and one or more
 * providers: per provider a provisioner, an updater, an initializer and a
 * recoverer (the latter two where the provider has an agent starter); the
 * janitor; and the reservations publisher where Equinix Metal is one of them.
 * One DB query limiter is shared by every claiming loop, as the runner's
 * contract asks.
 *
 * ```ts
 * const plane = startControlPlane({ bmdb, providers: [{ provider: new EquinixProvider(client), starter }],
 *   agentUrl, registry, logger, provisioner: { maxDevices: 20 } });
 * // ...
 * await plane.stop(); // work released as Canceled, sessions closed
 * ```
 *
 * @module
 */
import type { Registry } from "prom-client";
import { type Bmdb, type Logger, Provider } from "../bmdb/mod.ts";
import type { EquinixClient } from "../equinix/mod.ts";
import type { AgentStarter } from "./agent_starter.ts";
import { Initializer, type InitializerOptions } from "./initializer.ts";
import { Janitor, type JanitorOptions } from "./janitor.ts";
import { loopMetrics } from "./metrics.ts";
import type { MachineProvider } from "./provider.ts";
import { Provisioner, type ProvisionerOptions } from "./provisioner.ts";
import { Recoverer, type RecovererOptions } from "./recoverer.ts";
import { ReservationsPublisher, type ReservationsPublisherOptions, type ReservationStore } from "./reservations.ts";
import { LoopRunner, type LoopRunnerOptions } from "./runner.ts";
import type { Nudge } from "./schedule.ts";
import { TokenBucket } from "./token_bucket.ts";
import { Updater, type UpdaterOptions } from "./updater.ts";

type Shared = "registry" | "logger";

/** Runner settings of a claiming loop. */
type RunnerSettings = Pick<
  LoopRunnerOptions,
  "parallelism" | "idleWaitMs" | "maxIdleWaitMs" | "errorPauseMs" | "sessionIntervalSeconds"
>;

/** One provider and how its loops run. */
export interface ProviderSetup {
  provider: MachineProvider;
  /** Starts agents on its machines; without one, its initializer and recoverer do not run. */
  starter?: AgentStarter;
  /** Its provisioner and updater pass at once when nudged (an inventory file that changed). */
  nudge?: Nudge;
  /** Overrides `provisioner.intervalMs` for this provider. */
  provisionerIntervalMs?: number;
  /** Overrides `updater.intervalMs` for this provider. */
  updaterIntervalMs?: number;
}

export interface ControlPlaneOptions {
  bmdb: Bmdb;
  /** The providers, at least one; a machine row says which it belongs to. */
  providers: readonly ProviderSetup[];
  /** The server's base URL as agents reach it. */
  agentUrl: string;
  registry: Registry;
  logger: Logger;
  /** The claims' DB query limiter. @default one token per 250 ms, burst 8 */
  dbLimiter?: TokenBucket;
  provisioner: Omit<ProvisionerOptions, Shared | "creationLimiter"> & { creationLimiter?: TokenBucket };
  updater?: Omit<UpdaterOptions, Shared>;
  initializer?: Omit<InitializerOptions, "starter" | "agentUrl"> & RunnerSettings;
  recoverer?: Omit<RecovererOptions, "provider" | "name"> & RunnerSettings;
  janitor?: Omit<JanitorOptions, Shared>;
  /** Where Equinix Metal's reservations are published (omit to not publish). */
  reservations?: { store: ReservationStore; client: EquinixClient } & Omit<ReservationsPublisherOptions, "logger">;
}

/** The running loops. */
export interface ControlPlane {
  /** The provisioner whose status the dashboard shows: the first provider's that creates machines, else the first. */
  readonly provisioner: Provisioner;
  /** Every provider's provisioner, in the order of `providers`. */
  readonly provisioners: readonly Provisioner[];
  /** The loops still running (during a stop: those not stopped yet). */
  running(): string[];
  /** Stops every loop: held work is released as Canceled, sessions closed. Idempotent. */
  stop(): Promise<void>;
}

function runnerOptions(settings: RunnerSettings | undefined) {
  const { parallelism, idleWaitMs, maxIdleWaitMs, errorPauseMs, sessionIntervalSeconds } = settings ?? {};
  return { parallelism, idleWaitMs, maxIdleWaitMs, errorPauseMs, sessionIntervalSeconds };
}

/** A loop's name for `provider`: Equinix keeps the plain names (metrics and logs as before). */
function loopName(base: string, provider: Provider): string {
  return provider === Provider.Equinix ? base : `${base}-${provider.toLowerCase()}`;
}

export function startControlPlane(options: ControlPlaneOptions): ControlPlane {
  const { bmdb, registry, logger } = options;
  if (options.providers.length === 0) throw new RangeError("Cannot start the control plane: no provider given");
  const names = new Set(options.providers.map((p) => p.provider.provider));
  if (names.size < options.providers.length) {
    throw new RangeError("Cannot start the control plane: a provider is given twice");
  }
  const limiter = options.dbLimiter ?? new TokenBucket({ intervalMs: 250, burst: 8 });
  const creationLimiter = options.provisioner.creationLimiter ?? new TokenBucket({ intervalMs: 2000, burst: 5 });
  const metrics = loopMetrics(registry);
  const loops: [string, { run(signal: AbortSignal): Promise<void> } | undefined][] = [];
  const provisioners: Provisioner[] = [];
  for (const setup of options.providers) {
    const { provider, starter, nudge } = setup;
    const name = (base: string) => loopName(base, provider.provider);
    const provisioner = new Provisioner(bmdb, provider, {
      ...options.provisioner,
      ...(setup.provisionerIntervalMs !== undefined ? { intervalMs: setup.provisionerIntervalMs } : {}),
      creationLimiter,
      nudge,
      registry,
      logger,
    });
    provisioners.push(provisioner);
    const updater = new Updater(bmdb, provider, {
      ...options.updater,
      ...(setup.updaterIntervalMs !== undefined ? { intervalMs: setup.updaterIntervalMs } : {}),
      nudge,
      registry,
      logger,
    });
    loops.push([name("provisioner"), provisioner], [name("updater"), updater]);
    if (!starter) continue;
    loops.push([
      name("initializer"),
      new LoopRunner(
        bmdb,
        new Initializer({
          ...options.initializer,
          starter,
          agentUrl: options.agentUrl,
          provider: provider.provider,
          name: name("initializer"),
        }),
        { ...runnerOptions(options.initializer), limiter, metrics, logger },
      ),
    ]);
    // Recovery restarts agents through the initializer: without a starter, it would only reboot.
    loops.push([
      name("recoverer"),
      new LoopRunner(
        bmdb,
        new Recoverer({ ...options.recoverer, provider, name: name("recoverer") }),
        { ...runnerOptions(options.recoverer), limiter, metrics, logger },
      ),
    ]);
  }
  loops.push(["janitor", new Janitor(bmdb, { ...options.janitor, registry, logger })]);
  if (options.reservations) {
    loops.push([
      "reservations publisher",
      new ReservationsPublisher(options.reservations.client, options.reservations.store, {
        ...options.reservations,
        logger,
      }),
    ]);
  }

  const stopping = new AbortController();
  // Which loops have not stopped yet: a shutdown that runs out of time names them.
  const stillRunning = new Set<string>();
  const running = Promise.all(loops.map(async ([name, loop]) => {
    if (!loop) return;
    stillRunning.add(name);
    try {
      await loop.run(stopping.signal);
    } finally {
      stillRunning.delete(name);
      if (stopping.signal.aborted) logger.debug("loop stopped", { loop: name });
    }
  }));
  let stopped: Promise<void> | undefined;
  return {
    provisioner: provisioners.find((p) => p.provider.creation) ?? provisioners[0],
    provisioners,
    running: () => [...stillRunning],
    stop: () =>
      stopped ??= (async () => {
        stopping.abort(new Error("control plane stopping"));
        await running;
      })(),
  };
}
