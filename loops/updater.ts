/**
 * The updater: copies what the provider reports of each device (status,
 * public IPv4, metro, reservation) into the BMDB's `machine_provided`, page by
 * page, so neither side's fleet is ever loaded at once. Machines whose device
 * the sweep did not see are marked Missing (the provisioner decides what a
 * missing device means; the dashboard shows it).
 *
 * Devices the BMDB does not know are not touched here (the provisioner adopts
 * managed ones). Every replica may run it: the writes are idempotent.
 *
 * @module
 */
import type { Registry } from "prom-client";
import { type Bmdb, type Logger, Provider, ProviderStatus, type Session } from "../bmdb/mod.ts";
import type { EquinixClient } from "../equinix/mod.ts";
import { providedFields } from "./provider_view.ts";
import { counterOn } from "./metrics.ts";
import { runEvery } from "./schedule.ts";

export interface UpdaterOptions {
  /** Time between sweeps. @default 60_000 */
  intervalMs?: number;
  /** BMDB machines read per page when looking for missing devices. @default 1000 */
  pageSize?: number;
  registry: Registry;
  logger: Logger;
}

/** What one sweep did. */
export interface UpdaterPass {
  /** Devices whose fields were written (a device the BMDB does not know changes nothing). */
  devices: number;
  /** Machines newly marked Missing. */
  missing: number;
}

function metricsOn(registry: Registry) {
  return {
    devices: counterOn(
      registry,
      "drover_updater_devices_total",
      "Provider devices whose status the updater copied into the BMDB.",
    ),
    missing: counterOn(
      registry,
      "drover_updater_missing_total",
      "Machines the updater marked Missing (no device at the provider).",
    ),
    errors: counterOn(
      registry,
      "drover_updater_errors_total",
      "Updater sweeps that failed (retried at the next sweep).",
    ),
  };
}

export class Updater {
  readonly #bmdb: Bmdb;
  readonly #client: EquinixClient;
  readonly #intervalMs: number;
  readonly #pageSize: number;
  readonly #logger: Logger;
  readonly #metrics: ReturnType<typeof metricsOn>;
  /** Kept from pass to pass (one session per pass would churn sessions every interval); replaced when it expires. */
  #session: Session | undefined;

  constructor(bmdb: Bmdb, client: EquinixClient, options: UpdaterOptions) {
    this.#bmdb = bmdb;
    this.#client = client;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1 || this.#pageSize > 10_000) {
      throw new RangeError(`Cannot run the updater: pageSize must be in 1..10000: current value is ${this.#pageSize}`);
    }
    this.#logger = options.logger;
    this.#metrics = metricsOn(options.registry);
  }

  /** One sweep over the provider's devices, then over the BMDB's machines for missing ones. */
  async pass(signal?: AbortSignal): Promise<UpdaterPass> {
    if (this.#session?.signal.aborted) {
      await this.#session.close();
      this.#session = undefined;
    }
    const session = this.#session ??= await this.#bmdb.startSession();
    const seen = new Set<string>();
    let devices = 0;
    await this.#client.forEachDevicePage(async (page) => {
      for (const device of page) seen.add(device.id);
      await session.transact(async (q) => {
        for (const device of page) {
          await q.machineUpdateProviderStatus({ provider: Provider.Equinix, ...providedFields(device) });
        }
      });
      devices += page.length;
    }, { signal });

    let missing = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.#bmdb.read((q) =>
        q.getProvidedMachines({ provider: Provider.Equinix, limit: this.#pageSize, ...(after ? { after } : {}) })
      );
      const gone = page.filter((m) =>
        !seen.has(m.providerId) && m.providerStatus !== ProviderStatus.Missing &&
        m.providerStatus !== ProviderStatus.ProvisioningFailedPermanent
      );
      if (gone.length > 0) {
        await session.transact(async (q) => {
          for (const m of gone) {
            await q.machineUpdateProviderStatus({
              provider: Provider.Equinix,
              providerId: m.providerId,
              providerStatus: ProviderStatus.Missing,
            });
          }
        });
        missing += gone.length;
        for (const m of gone) {
          this.#logger.warn("device missing at the provider", { machineId: m.machineId, providerId: m.providerId });
        }
      }
      if (page.length < this.#pageSize) break;
      after = page[page.length - 1].machineId;
    }
    this.#metrics.devices.inc(devices);
    this.#metrics.missing.inc(missing);
    return { devices, missing };
  }

  /** Sweeps every interval until `signal` aborts; a failed sweep is logged and retried at the next. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await runEvery(this.#intervalMs, signal, (s) => this.pass(s), (error) => {
        this.#metrics.errors.inc();
        this.#logger.warn("updater sweep failed; retrying at the next", { error });
      });
    } finally {
      await this.#session?.close();
      this.#session = undefined;
    }
  }
}
