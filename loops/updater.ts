/**
 * The updater: copies what a provider reports of each machine into the
 * BMDB's `machine_provided` (Equinix: status, public IPv4, metro,
 * reservation; an inventory: its entries and their BMCs' power state and
 * health, Unknown with the cause when a BMC cannot be read), page by page,
 * so neither side's fleet is ever loaded at once: one statement per page,
 * writing only the machines where something changed (an idle sweep writes
 * nothing). Machines the sweep did not see are marked Missing (the
 * provisioner decides what a missing device means; the dashboard shows it),
 * but only those recorded before the sweep's listing began: a device created
 * while the listing ran may sit on a page already read.
 *
 * Machines the BMDB does not know are not touched here (the provisioner
 * adopts them). Every replica may run it: the writes are idempotent.
 *
 * @module
 */
import type { Registry } from "prom-client";
import { type Bmdb, type Logger, type ProvidedDevice, ProviderStatus, type Session } from "../bmdb/mod.ts";
import { counterOn } from "./metrics.ts";
import type { MachineProvider } from "./provider.ts";
import { type Nudge, runEvery } from "./schedule.ts";

export interface UpdaterOptions {
  /** Time between sweeps. @default 60_000 */
  intervalMs?: number;
  /** BMDB machines read per page when looking for missing devices. @default 1000 */
  pageSize?: number;
  /** Sweeps at once when nudged (an inventory that changed), besides every interval. */
  nudge?: Nudge;
  registry: Registry;
  logger: Logger;
}

/** What one sweep did. */
export interface UpdaterPass {
  /** Machines the provider reported. */
  devices: number;
  /** Machines whose status, address, metro or reservation changed and was written. */
  written: number;
  /** Machines newly marked Missing. */
  missing: number;
}

function metricsOn(registry: Registry) {
  return {
    devices: counterOn(
      registry,
      "drover_updater_devices_total",
      "Provider devices the updater listed and compared with the BMDB.",
    ),
    written: counterOn(
      registry,
      "drover_updater_machines_written_total",
      "Machines whose provider status, address, metro or reservation the updater changed in the BMDB.",
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
  readonly #provider: MachineProvider;
  readonly #intervalMs: number;
  readonly #nudge: Nudge | undefined;
  readonly #pageSize: number;
  readonly #logger: Logger;
  readonly #metrics: ReturnType<typeof metricsOn>;
  /** Kept from pass to pass (one session per pass would churn sessions every interval); replaced when it expires. */
  #session: Session | undefined;

  constructor(bmdb: Bmdb, provider: MachineProvider, options: UpdaterOptions) {
    this.#bmdb = bmdb;
    this.#provider = provider;
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#nudge = options.nudge;
    this.#pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(this.#pageSize) || this.#pageSize < 1 || this.#pageSize > 10_000) {
      throw new RangeError(`Cannot run the updater: pageSize must be in 1..10000: current value is ${this.#pageSize}`);
    }
    this.#logger = options.logger;
    this.#metrics = metricsOn(options.registry);
  }

  /**
   * One sweep over the provider's machines, then over the BMDB's machines for
   * missing ones. One statement per page of reports (writing only machines
   * that changed) and one per page of machines gone.
   */
  async pass(signal?: AbortSignal): Promise<UpdaterPass> {
    const session = await this.#liveSession();
    // From the database's clock, before the listing begins: a machine recorded
    // later may have a device the listing had passed already, so only machines
    // recorded before this may be marked Missing.
    const listingBegan = await this.#bmdb.read((q) => q.getDatabaseTime());
    const seen = new Set<string>();
    let devices = 0;
    let written = 0;
    await this.#provider.statuses.forEachPage(async (page) => {
      for (const device of page) seen.add(device.providerId);
      devices += page.length;
      written += await this.#copyPage(session, page);
    }, { signal });
    const missing = await this.#markMissing(session, seen, listingBegan);
    this.#metrics.devices.inc(devices);
    this.#metrics.written.inc(written);
    this.#metrics.missing.inc(missing);
    return { devices, written, missing };
  }

  async #liveSession(): Promise<Session> {
    if (this.#session?.signal.aborted) {
      await this.#session.close();
      this.#session = undefined;
    }
    return this.#session ??= await this.#bmdb.startSession();
  }

  /** Writes what changed of a page of reports; returns how many machines changed. */
  async #copyPage(session: Session, page: ProvidedDevice[]): Promise<number> {
    if (page.length === 0) return 0;
    const { provider, statuses } = this.#provider;
    const changed = await session.transact((q) =>
      q.machinesUpdateProviderStatus({ provider, devices: page, exact: statuses.exact })
    );
    return changed.length;
  }

  /**
   * Pages through the BMDB's machines and marks Missing those recorded before
   * `listingBegan` whose device the listing did not show; returns how many.
   */
  async #markMissing(session: Session, seen: ReadonlySet<string>, listingBegan: Date): Promise<number> {
    let missing = 0;
    let after: string | undefined;
    for (;;) {
      const page = await this.#bmdb.read((q) =>
        q.getProvidedMachines({ provider: this.#provider.provider, limit: this.#pageSize, ...(after ? { after } : {}) })
      );
      const gone = page.filter((m) =>
        !seen.has(m.providerId) && m.providerStatus !== ProviderStatus.Missing &&
        m.providerStatus !== ProviderStatus.ProvisioningFailedPermanent
      );
      if (gone.length > 0) {
        const marked = await session.transact((q) =>
          q.machinesMarkMissing({
            provider: this.#provider.provider,
            providerIds: gone.map((m) => m.providerId),
            recordedBefore: listingBegan,
          })
        );
        missing += marked.length;
        for (const m of marked) {
          this.#logger.warn("device missing at the provider", { machineId: m.machineId, providerId: m.providerId });
        }
      }
      if (page.length < this.#pageSize) return missing;
      after = page[page.length - 1].machineId;
    }
  }

  /** Sweeps every interval until `signal` aborts; a failed sweep is logged and retried at the next. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      await runEvery(this.#intervalMs, signal, (s) => this.pass(s), (error) => {
        this.#metrics.errors.inc();
        this.#logger.warn("updater sweep failed; retrying at the next", { provider: this.#provider.provider, error });
      }, this.#nudge);
    } finally {
      await this.#session?.close();
      this.#session = undefined;
    }
  }
}
