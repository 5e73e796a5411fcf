/**
 * The provisioner: keeps the provider's devices and the BMDB's machines in
 * step, and creates devices from free hardware reservations up to a maximum.
 *
 * Each pass:
 * 1. Lists the provider's devices and the BMDB's Equinix machines.
 * 2. Adopts every managed device (one carrying the managed tag) the BMDB does
 *    not know: a device whose BMDB write failed after its creation is found
 *    here on the next pass, never orphaned.
 * 3. Halts if a BMDB machine's device is missing at the provider while the
 *    machine is not marked failed: the two sides disagree badly, and creating
 *    more devices could make it worse. The halt and its reason stay visible
 *    (`status`, a gauge) until a later pass finds the sides agree again.
 * 4. Otherwise creates up to `chunkSize` devices (never beyond `maxDevices`
 *    managed ones) from provisionable reservations without a device, each
 *    after a token of the device-creation limiter, and records each as a
 *    machine with `machine_provided`.
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
   * Records a device as a new machine, in `session` (one per pass, started on
   * its first write). False when another replica recorded it first.
   */
  async #record(session: Session, device: Device): Promise<boolean> {
    try {
      await session.transact(async (q) => {
        const { machineId } = await q.newMachine();
        await q.machineAddProvided({ machineId, provider: Provider.Equinix, ...providedFields(device) });
      });
      return true;
    } catch (error) {
      if (error instanceof DatabaseError && error.code === "23505") return false; // UNIQUE (provider, provider_id)
      throw error;
    }
  }

  /** One pass; see the module comment. */
  async pass(signal?: AbortSignal): Promise<ProvisionerPass> {
    let session: Session | undefined;
    const record = async (device: Device) => this.#record(session ??= await this.#bmdb.startSession(), device);
    try {
      return await this.#pass(record, signal);
    } finally {
      await session?.close();
    }
  }

  async #pass(record: (device: Device) => Promise<boolean>, signal?: AbortSignal): Promise<ProvisionerPass> {
    const { maxDevices, chunkSize, managedTag } = this.#options;
    const devices = await this.#client.listDevices({ signal });
    const machines = await this.#bmdbMachines();
    const known = new Set(machines.map((m) => m.providerId));
    const managed = devices.filter((d) => d.tags?.includes(managedTag));

    let adopted = 0;
    for (const device of managed.filter((d) => !known.has(d.id))) {
      if (await record(device)) {
        adopted++;
        this.#metrics.adopted.inc();
        this.#logger.warn("adopted a managed device the BMDB did not know", { providerId: device.id });
      }
    }

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
    if (wanted > 0) {
      const reservations = await this.#client.listReservations({ signal });
      const free = reservations.filter((r) => r.provisionable && !r.device);
      for (const reservation of free.slice(0, wanted)) {
        await this.#limiter.take(signal);
        const device = await this.#create(reservation, signal);
        if (!device) continue;
        pass.created++;
        this.#metrics.created.inc();
        // A failure here ends the pass with the device managed but unrecorded: the next pass adopts it.
        await record(device);
      }
    }
    this.#setStatus({ halted: false, reason: null, managedDevices: managed.length + pass.created });
    return pass;
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
