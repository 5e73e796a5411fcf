/**
 * The provisioner: keeps the provider's devices and the BMDB's machines in
 * step, and creates devices from free hardware reservations up to a maximum.
 *
 * Each pass:
 * 1. Lists the provider's devices and the BMDB's Equinix machines.
 * 2. Adopts every managed device (one carrying the managed tag) the BMDB does
 *    not know, all in one statement: a device whose BMDB write failed after
 *    its creation is found here on the next pass, never orphaned.
 * 3. Halts if a BMDB machine's device is missing at the provider while the
 *    machine is not marked failed: the two sides disagree badly, and creating
 *    more devices could make it worse. The halt and its reason stay visible
 *    (`status`, a gauge) until a later pass finds the sides agree again.
 * 4. Otherwise creates up to `chunkSize` devices (never beyond `maxDevices`
 *    managed ones) from provisionable reservations without a device, each
 *    after a token of the device-creation limiter, and records them as
 *    machines with `machine_provided` while the next are created: one
 *    statement for those created since the last statement went out. A
 *    device whose record fails (or never happens: a crash) carries the
 *    managed tag and occupies its reservation, so the next pass adopts it
 *    (step 2) and never creates a second on that reservation.
 *
 * @module
 */
import type { Registry } from "prom-client";
import {
  type Bmdb,
  DatabaseError,
  type Logger,
  type MachineProvided,
  Provider,
  ProviderStatus,
  type Session,
} from "../bmdb/mod.ts";
import { type Device, type EquinixClient, type HardwareReservation, RaceLostError } from "../equinix/mod.ts";
import { MemoryValue } from "../event/mod.ts";
import { providedFields } from "./provider_view.ts";
import { counterOn, gaugeOn } from "./metrics.ts";
import { runEvery } from "./schedule.ts";
import type { TokenBucket } from "./token_bucket.ts";

export interface ProvisionerOptions {
  /** Managed devices the provisioner creates up to. */
  maxDevices: number;
  /** Devices created per pass at most. @default 5 */
  chunkSize?: number;
  /** One token per device creation. */
  creationLimiter: TokenBucket;
  /** The tag that marks devices Drover manages. @default "drover-managed" */
  managedTag?: string;
  /** @default "ubuntu_24_04" */
  operatingSystem?: string;
  /** Hostnames are this followed by the reservation's short id. @default "drover-" */
  hostnamePrefix?: string;
  /** Time between passes. @default 30_000 */
  intervalMs?: number;
  registry: Registry;
  logger: Logger;
}

/** What the provisioner last concluded; the dashboard shows a halt as a banner. */
export interface ProvisionerStatus {
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
}

const MISSING_NAMED_AT_MOST = 5;

/** Records devices as new machines; returns the provider ids it recorded (not those recorded already). */
type RecordDevices = (devices: readonly Device[]) => Promise<string[]>;

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
  #queued: Device[] = [];
  #flushing: Promise<void> | undefined;
  #failure: { error: unknown } | undefined;

  constructor(record: RecordDevices) {
    this.#record = record;
  }

  /** Queues `device` for recording. @throws the failure of an earlier statement. */
  add(device: Device): void {
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
    errors: counterOn(
      registry,
      "drover_provisioner_errors_total",
      "Provisioner passes that failed (retried at the next pass).",
    ),
  };
}

export class Provisioner {
  readonly #bmdb: Bmdb;
  readonly #client: EquinixClient;
  readonly #options: Required<Omit<ProvisionerOptions, "registry" | "logger" | "creationLimiter">>;
  readonly #limiter: TokenBucket;
  readonly #logger: Logger;
  readonly #metrics: ReturnType<typeof metricsOn>;
  /** The latest conclusion (set after every pass), for the dashboard, metrics and tests. */
  readonly status = new MemoryValue<ProvisionerStatus>();

  constructor(bmdb: Bmdb, client: EquinixClient, options: ProvisionerOptions) {
    const o = {
      maxDevices: options.maxDevices,
      chunkSize: options.chunkSize ?? 5,
      managedTag: options.managedTag ?? "drover-managed",
      operatingSystem: options.operatingSystem ?? "ubuntu_24_04",
      hostnamePrefix: options.hostnamePrefix ?? "drover-",
      intervalMs: options.intervalMs ?? 30_000,
    };
    for (const [name, value, min] of [["maxDevices", o.maxDevices, 0], ["chunkSize", o.chunkSize, 1]] as const) {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(
          `Cannot run the provisioner: ${name} must be an integer >= ${min}: current value is ${value}`,
        );
      }
    }
    if (o.managedTag === "") throw new RangeError("Cannot run the provisioner: managedTag must not be empty");
    this.#bmdb = bmdb;
    this.#client = client;
    this.#options = o;
    this.#limiter = options.creationLimiter;
    this.#logger = options.logger;
    this.#metrics = metricsOn(options.registry);
  }

  async #bmdbMachines(): Promise<MachineProvided[]> {
    const all: MachineProvided[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.#bmdb.read((q) =>
        q.getProvidedMachines({ provider: Provider.Equinix, limit: 1000, ...(after ? { after } : {}) })
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
  async #record(session: Session, devices: readonly Device[]): Promise<string[]> {
    try {
      const made = await session.transact((q) =>
        q.newProvidedMachines({ provider: Provider.Equinix, devices: devices.map(providedFields) })
      );
      return made.map((m) => m.providerId);
    } catch (error) {
      // UNIQUE (provider, provider_id): another replica recorded one of them while this statement ran.
      if (!(error instanceof DatabaseError && error.code === "23505")) throw error;
      if (devices.length === 1) return [];
      const recorded: string[] = [];
      for (const device of devices) recorded.push(...await this.#record(session, [device]));
      return recorded;
    }
  }

  /** One pass; see the module comment. */
  async pass(signal?: AbortSignal): Promise<ProvisionerPass> {
    // One session per pass, started on its first write.
    let session: Promise<Session> | undefined;
    const record = async (devices: readonly Device[]) =>
      await this.#record(await (session ??= this.#bmdb.startSession()), devices);
    try {
      return await this.#pass(record, signal);
    } finally {
      await session?.then((s) => s.close(), () => {});
    }
  }

  async #pass(record: RecordDevices, signal?: AbortSignal): Promise<ProvisionerPass> {
    const { maxDevices, chunkSize, managedTag } = this.#options;
    const devices = await this.#client.listDevices({ signal });
    const machines = await this.#bmdbMachines();
    const known = new Set(machines.map((m) => m.providerId));
    const managed = devices.filter((d) => d.tags?.includes(managedTag));
    const adopted = await this.#adopt(record, managed.filter((d) => !known.has(d.id)));

    const present = new Set(devices.map((d) => d.id));
    const missing = machines.filter((m) =>
      !present.has(m.providerId) && m.providerStatus !== ProviderStatus.ProvisioningFailedPermanent
    );
    const pass = { adopted, created: 0, halted: missing.length > 0 };
    if (pass.halted) {
      const named = missing.slice(0, MISSING_NAMED_AT_MOST).map((m) => `${m.machineId} (device ${m.providerId})`);
      const reason = `${missing.length} machine(s) have no device at the provider and are not marked failed: ` +
        named.join(", ") + (missing.length > named.length ? ", ..." : "") +
        ". Restore the devices, or mark the machines ProvisioningFailedPermanent, to resume provisioning.";
      this.#setStatus({ halted: true, reason, managedDevices: managed.length });
      this.#logger.error("provisioner halted", { reason });
      return pass;
    }

    const wanted = Math.min(chunkSize, maxDevices - managed.length);
    if (wanted > 0) pass.created = await this.#createChunk(record, wanted, signal);
    this.#setStatus({ halted: false, reason: null, managedDevices: managed.length + pass.created });
    return pass;
  }

  /** Records managed devices the BMDB lacks (all in one statement); returns how many this pass recorded. */
  async #adopt(record: RecordDevices, orphans: Device[]): Promise<number> {
    if (orphans.length === 0) return 0;
    const adopted = await record(orphans);
    this.#metrics.adopted.inc(adopted.length);
    for (const providerId of adopted) {
      this.#logger.warn("adopted a managed device the BMDB did not know", { providerId });
    }
    return adopted.length;
  }

  /**
   * Creates up to `wanted` devices from free reservations, recording them
   * while the next ones are created; returns how many it created.
   * @throws the first recording failure (after which it creates no more: the
   *   next pass adopts what was left unrecorded), or a creation failure.
   */
  async #createChunk(record: RecordDevices, wanted: number, signal?: AbortSignal): Promise<number> {
    const reservations = await this.#client.listReservations({ signal });
    const free = reservations.filter((r) => r.provisionable && !r.device);
    const recorder = new DeviceRecorder(record);
    let created = 0;
    try {
      for (const reservation of free.slice(0, wanted)) {
        recorder.throwIfFailed();
        await this.#limiter.take(signal);
        const device = await this.#create(reservation, signal);
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

  async #create(reservation: HardwareReservation, signal?: AbortSignal): Promise<Device | undefined> {
    const metro = reservation.facility?.metro?.code;
    const plan = reservation.plan?.slug;
    if (!metro || !plan) {
      this.#logger.warn("skipping a reservation without plan or metro", { reservationId: reservation.id });
      return undefined;
    }
    try {
      return await this.#client.createDevice({
        hardware_reservation_id: reservation.id,
        metro,
        plan,
        operating_system: this.#options.operatingSystem,
        hostname: this.#options.hostnamePrefix + (reservation.short_id ?? reservation.id.slice(0, 8)),
        tags: [this.#options.managedTag],
      }, { signal });
    } catch (error) {
      if (error instanceof RaceLostError) {
        this.#logger.warn("reservation taken by someone else", { reservationId: reservation.id });
        return undefined;
      }
      throw error;
    }
  }

  #setStatus(s: Omit<ProvisionerStatus, "maxDevices" | "lastPassAt">): void {
    this.#metrics.halted.set(s.halted ? 1 : 0);
    this.status.set({ ...s, maxDevices: this.#options.maxDevices, lastPassAt: new Date().toISOString() });
  }

  /** Passes every interval until `signal` aborts; a failed pass is logged and retried at the next. */
  async run(signal: AbortSignal): Promise<void> {
    await runEvery(this.#options.intervalMs, signal, (s) => this.pass(s), (error) => {
      this.#metrics.errors.inc();
      this.#logger.warn("provisioner pass failed; retrying at the next", { error });
    });
  }
}
