/**
 * The provisioner: keeps a provider's machines and the BMDB's in step, and,
 * where the provider creates machines, creates them up to a maximum.
 *
 * Each pass:
 * 1. Lists the provider's machines and the BMDB's machines of that provider.
 * 2. Adopts every machine the provider lists for Drover (Equinix: devices
 *    carrying the managed tag; an inventory: its entries) that the BMDB does
 *    not know, all in one statement: a device whose BMDB write failed after
 *    its creation is found here on the next pass, never orphaned.
 * 3. Where the provider creates machines: halts if a BMDB machine is missing
 *    at the provider while the machine is not marked failed: the two sides
 *    disagree badly, and creating more could make it worse. The halt and its
 *    reason stay visible (`status`, a gauge) until a later pass finds the
 *    sides agree again. Where it does not create (an inventory): marks such
 *    machines Missing instead, and the loops leave them alone; a machine put
 *    back is found again with its history (the updater restores its status).
 * 4. Otherwise creates up to `chunkSize` machines (never beyond `maxDevices`
 *    managed ones) in free slots (Equinix: provisionable reservations without
 *    a device), each after a token of the creation limiter, and records them
 *    with `machine_provided` while the next are created: one statement for
 *    those created since the last statement went out. A device whose record
 *    fails (or never happens: a crash) carries the managed tag and occupies
 *    its reservation, so the next pass adopts it (step 2) and never creates a
 *    second on that reservation.
 *
 * @module
 */
import type { Registry } from "prom-client";
import {
  type Bmdb,
  DatabaseError,
  type Logger,
  type MachineProvided,
  type ProvidedDevice,
  ProviderStatus,
  type Session,
} from "../bmdb/mod.ts";
import { MemoryValue } from "../event/mod.ts";
import type { MachineCreation, MachineProvider } from "./provider.ts";
import { counterOn, gaugeOn } from "./metrics.ts";
import { type Nudge, runEvery } from "./schedule.ts";
import type { TokenBucket } from "./token_bucket.ts";

export interface ProvisionerOptions {
  /** Managed machines the provisioner creates up to (providers that create). */
  maxDevices: number;
  /** Machines created per pass at most. @default 5 */
  chunkSize?: number;
  /** One token per machine creation. */
  creationLimiter: TokenBucket;
  /** Time between passes. @default 30_000 */
  intervalMs?: number;
  /** Passes at once when nudged (an inventory that changed), besides every interval. */
  nudge?: Nudge;
  registry: Registry;
  logger: Logger;
}

/** What the provisioner last concluded; the dashboard shows a halt as a banner. */
export interface ProvisionerStatus {
  /** The provider it provisions. */
  provider: string;
  halted: boolean;
  /** Why it halted (which machines lack a device), or null. */
  reason: string | null;
  managedDevices: number;
  maxDevices: number;
  /** ISO 8601 time of the last pass, or null before the first. */
  lastPassAt: string | null;
}

/** What one pass did. */
export interface ProvisionerPass {
  adopted: number;
  created: number;
  halted: boolean;
  /** Machines newly marked Missing (providers that do not create). */
  missing?: number;
}

const MISSING_NAMED_AT_MOST = 5;

/** Records devices as new machines; returns the provider ids it recorded (not those recorded already). */
type RecordDevices = (devices: readonly ProvidedDevice[]) => Promise<string[]>;

/**
 * Records created devices while the next ones are being created: a device
 * goes out at once when no statement is in flight, otherwise with the others
 * created meanwhile, in the next statement. So a chunk costs one statement
 * per batch rather than a transaction per device, and a device stays
 * unrecorded for about one statement (a window in which another replica's
 * pass would adopt it: harmless, but logged). After a failed statement it
 * records nothing more; the devices it held are adopted by the next pass.
 */
class DeviceRecorder {
  readonly #record: RecordDevices;
  #queued: ProvidedDevice[] = [];
  #flushing: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(record: RecordDevices) {
    this.#record = record;
  }

  /** Queues `device` for recording. @throws the failure of an earlier statement. */
  add(device: ProvidedDevice): void {
    this.throwIfFailed();
    this.#queued.push(device);
    this.#flushing ??= this.#flush();
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queued.length > 0 && !this.#failure) {
        const batch = this.#queued;
        this.#queued = [];
        await this.#record(batch);
      }
    } catch (error) {
      this.#failure = { error };
    } finally {
      this.#flushing = undefined;
    }
  }

  /** Resolves when nothing is in flight; never rejects. */
  async settled(): Promise<void> {
    await this.#flushing;
  }

  throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }
}

function metricsOn(registry: Registry) {
  return {
    halted: gaugeOn(
      registry,
      "drover_provisioner_halted",
      "1 while the provisioner refuses to create devices because the provider and the BMDB disagree.",
    ),
    created: counterOn(
      registry,
      "drover_provisioner_devices_created_total",
      "Devices the provisioner created from hardware reservations.",
    ),
    adopted: counterOn(
      registry,
      "drover_provisioner_devices_adopted_total",
      "Managed devices found at the provider without a BMDB machine, and recorded.",
    ),
    missing: counterOn(
      registry,
      "drover_provisioner_machines_missing_total",
      "Machines marked Missing because their provider no longer lists them (an inventory's removed entries).",
    ),
    errors: counterOn(
      registry,
      "drover_provisioner_errors_total",
      "Provisioner passes that failed (retried at the next pass).",
    ),
  };
}

export class Provisioner {
  readonly #bmdb: Bmdb;
  readonly #provider: MachineProvider;
  readonly #options: { maxDevices: number; chunkSize: number; intervalMs: number };
  readonly #limiter: TokenBucket;
  readonly #nudge: Nudge | undefined;
  readonly #logger: Logger;
  readonly #metrics: ReturnType<typeof metricsOn>;
  /** The latest conclusion (set after every pass), for the dashboard, metrics and tests. */
  readonly status = new MemoryValue<ProvisionerStatus>();

  constructor(bmdb: Bmdb, provider: MachineProvider, options: ProvisionerOptions) {
    const o = {
      maxDevices: options.maxDevices,
      chunkSize: options.chunkSize ?? 5,
      intervalMs: options.intervalMs ?? 30_000,
    };
    for (const [name, value, min] of [["maxDevices", o.maxDevices, 0], ["chunkSize", o.chunkSize, 1]] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(
          `Cannot run the provisioner: ${name} must be an integer >= ${min}: current value is ${value}`,
        );
      }
    }
    this.#bmdb = bmdb;
    this.#provider = provider;
    this.#options = o;
    this.#limiter = options.creationLimiter;
    this.#nudge = options.nudge;
    this.#logger = options.logger;
    this.#metrics = metricsOn(options.registry);
  }

  /** The provider it provisions. */
  get provider(): MachineProvider {
    return this.#provider;
  }

  async #bmdbMachines(): Promise<MachineProvided[]> {
    const all: MachineProvided[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.#bmdb.read((q) =>
        q.getProvidedMachines({ provider: this.#provider.provider, limit: 1000, ...(after ? { after } : {}) })
      );
      all.push(...page);
      if (page.length < 1000) return all;
      after = page[page.length - 1].machineId;
    }
  }

  /**
   * Records devices as new machines, all in one statement, in `session`.
   * Returns the provider ids this call recorded: a device another replica
   * recorded first is skipped.
   */
  async #record(session: Session, devices: readonly ProvidedDevice[]): Promise<string[]> {
    const made: string[] = [];
    // One statement takes at most 10,000 (an inventory may list more).
    for (let i = 0; i < devices.length; i += 10_000) {
      made.push(...await this.#recordBatch(session, devices.slice(i, i + 10_000)));
    }
    return made;
  }

  async #recordBatch(session: Session, devices: readonly ProvidedDevice[]): Promise<string[]> {
    try {
      const made = await session.transact((q) => q.newProvidedMachines({ provider: this.#provider.provider, devices }));
      return made.map((m) => m.providerId);
    } catch (error) {
      // UNIQUE (provider, provider_id): another replica recorded one of them while this statement ran.
      if (!(error instanceof DatabaseError && error.code === "23505")) throw error;
      if (devices.length === 1) return [];
      const recorded: string[] = [];
      for (const device of devices) recorded.push(...await this.#recordBatch(session, [device]));
      return recorded;
    }
  }

  /** One pass; see the module comment. */
  async pass(signal?: AbortSignal): Promise<ProvisionerPass> {
    // One session per pass, started on its first write.
    let session: Promise<Session> | undefined;
    const live = () => session ??= this.#bmdb.startSession();
    const record = async (devices: readonly ProvidedDevice[]) => await this.#record(await live(), devices);
    try {
      return await this.#pass(record, live, signal);
    } finally {
      await session?.then((s) => s.close(), () => {});
    }
  }

  async #pass(record: RecordDevices, live: () => Promise<Session>, signal?: AbortSignal): Promise<ProvisionerPass> {
    const { maxDevices, chunkSize } = this.#options;
    const listing = await this.#provider.listMachines({ signal });
    const machines = await this.#bmdbMachines();
    const known = new Set(machines.map((m) => m.providerId));
    const adopted = await this.#adopt(record, listing.machines.filter((d) => !known.has(d.providerId)));
    const missing = machines.filter((m) =>
      !listing.has(m.providerId) && m.providerStatus !== ProviderStatus.ProvisioningFailedPermanent
    );
    const creation = this.#provider.creation;
    if (!creation) {
      const marked = await this.#markMissing(live, missing, signal);
      this.#setStatus({ halted: false, reason: null, managedDevices: listing.machines.length });
      return { adopted, created: 0, halted: false, missing: marked };
    }

    const managed = listing.machines.length;
    const pass = { adopted, created: 0, halted: missing.length > 0 };
    if (pass.halted) {
      const named = missing.slice(0, MISSING_NAMED_AT_MOST).map((m) => `${m.machineId} (device ${m.providerId})`);
      const reason = `${missing.length} machine(s) have no device at the provider and are not marked failed: ` +
        named.join(", ") + (missing.length > named.length ? ", ..." : "") +
        ". Restore the devices, or mark the machines ProvisioningFailedPermanent, to resume provisioning.";
      this.#setStatus({ halted: true, reason, managedDevices: managed });
      this.#logger.error("provisioner halted", { reason });
      return pass;
    }

    const wanted = Math.min(chunkSize, maxDevices - managed);
    if (wanted > 0) pass.created = await this.#createChunk(creation, record, wanted, signal);
    this.#setStatus({ halted: false, reason: null, managedDevices: managed + pass.created });
    return pass;
  }

  /** Records listed machines the BMDB lacks (one statement per 10,000); returns how many this pass recorded. */
  async #adopt(record: RecordDevices, orphans: ProvidedDevice[]): Promise<number> {
    if (orphans.length === 0) return 0;
    const adopted = await record(orphans);
    this.#metrics.adopted.inc(adopted.length);
    if (this.#provider.creation) {
      for (const providerId of adopted) {
        this.#logger.warn("adopted a managed device the BMDB did not know", { providerId });
      }
    } else if (adopted.length > 0) {
      this.#logger.info("adopted machines", { provider: this.#provider.provider, machines: adopted.length });
    }
    return adopted.length;
  }

  /** Marks Missing the machines the provider no longer lists (not Missing already); returns how many. */
  async #markMissing(live: () => Promise<Session>, missing: MachineProvided[], signal?: AbortSignal) {
    const gone = missing.filter((m) => m.providerStatus !== ProviderStatus.Missing);
    if (gone.length === 0) return 0;
    signal?.throwIfAborted();
    const session = await live();
    // Recorded before now: every machine here was read from the BMDB before this statement.
    const recordedBefore = await this.#bmdb.read((q) => q.getDatabaseTime());
    let marked = 0;
    for (let i = 0; i < gone.length; i += 10_000) {
      const rows = await session.transact((q) =>
        q.machinesMarkMissing({
          provider: this.#provider.provider,
          providerIds: gone.slice(i, i + 10_000).map((m) => m.providerId),
          recordedBefore,
        })
      );
      marked += rows.length;
      for (const m of rows) {
        this.#logger.warn("machine no longer listed by its provider: marked Missing", {
          machineId: m.machineId,
          providerId: m.providerId,
        });
      }
    }
    this.#metrics.missing.inc(marked);
    return marked;
  }

  /**
   * Creates up to `wanted` machines in free slots, recording them while the
   * next ones are created; returns how many it created.
   * @throws the first recording failure (after which it creates no more: the
   *   next pass adopts what was left unrecorded), or a creation failure.
   */
  async #createChunk(
    creation: MachineCreation<unknown>,
    record: RecordDevices,
    wanted: number,
    signal?: AbortSignal,
  ): Promise<number> {
    const free = await creation.freeSlots({ signal });
    const recorder = new DeviceRecorder(record);
    let created = 0;
    try {
      for (const slot of free.slice(0, wanted)) {
        recorder.throwIfFailed();
        await this.#limiter.take(signal);
        const device = await creation.create(slot, { signal });
        if (!device) continue;
        created++;
        this.#metrics.created.inc();
        recorder.add(device);
      }
    } finally {
      await recorder.settled();
    }
    recorder.throwIfFailed();
    return created;
  }

  #setStatus(s: Omit<ProvisionerStatus, "maxDevices" | "lastPassAt" | "provider">): void {
    if (this.#provider.creation) this.#metrics.halted.set(s.halted ? 1 : 0);
    this.status.set({
      ...s,
      provider: this.#provider.provider,
      maxDevices: this.#options.maxDevices,
      lastPassAt: new Date().toISOString(),
    });
  }

  /** Passes every interval (and when nudged) until `signal` aborts; a failed pass is logged and retried at the next. */
  async run(signal: AbortSignal): Promise<void> {
    await runEvery(this.#options.intervalMs, signal, (s) => this.pass(s), (error) => {
      this.#metrics.errors.inc();
      this.#logger.warn("provisioner pass failed; retrying at the next", {
        provider: this.#provider.provider,
        error,
      });
    }, this.#nudge);
  }
}
