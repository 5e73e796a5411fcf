/**
 * An inventory of machines you own as a {@linkcode MachineProvider}: the
 * machines are the inventory file's entries (re-read when it changes), each
 * reached over SSH, and those with a BMC are powered and restarted through
 * it over Redfish. It cannot create machines (they exist), so it has no
 * `creation`; it has `power`.
 *
 * Status, per machine, from its BMC: PowerState On is Running, Off is
 * Stopped (the recoverer powers on a machine that is off unless an operator
 * holds it off), a transition keeps the last status, and a BMC that cannot be
 * read is Unknown with the cause kept for the dashboard. A machine without a
 * BMC is taken to be Running (nothing can say otherwise) and has no power
 * control: recovering it fails with a cause that says an operator must act.
 *
 * @module
 */
import {
  type Bmdb,
  type Logger,
  type MachineProvided,
  type ProvidedDevice,
  type ProvidedField,
  Provider,
  ProviderStatus,
} from "../bmdb/mod.ts";
import type { Inventory, InventoryMachine } from "../inventory/mod.ts";
import {
  type PowerActionResult,
  type PowerOptions,
  type RedfishClient,
  type RedfishPool,
  type SystemState,
} from "../redfish/mod.ts";
import type { HostKeyPolicy } from "./host_keys.ts";
import {
  type MachineListing,
  type MachineProvider,
  NoPowerControlError,
  type PowerAction,
  type PowerControl,
  type PowerOutcome,
  type StatusSweep,
} from "./provider.ts";
import type { SshTarget } from "./ssh_starter.ts";

export interface InventoryProviderOptions {
  /** The inventory as it is now (the watcher's last good one), read at every use. */
  inventory: () => Inventory;
  /** The BMCs' client pool (its in-flight limit bounds a sweep's concurrency). */
  redfish: RedfishPool;
  /** Reads the host keys recorded on first use. */
  bmdb: Bmdb;
  logger: Logger;
  /** BMC reads in flight during a status sweep at most. @default 64 */
  sweepConcurrency?: number;
  /** Reports per status page (one BMDB statement each). @default 500 */
  pageSize?: number;
  /** A page goes out after this long even when not full, so a slow fleet's statuses show early. @default 1000 */
  pageMs?: number;
  /** Timing of power actions and restarts. */
  power?: Omit<PowerOptions, "signal">;
}

/** The fields an inventory status report states exactly (the status itself only when known). */
const EXACT: readonly ProvidedField[] = [
  "providerIpAddress",
  "providerLocation",
  "providerBmc",
  "providerPowerState",
  "providerHealth",
  "providerStatusCause",
];

/** How the dashboard names a machine's BMC: its origin and system path. */
export function bmcLabel(machine: InventoryMachine): string | null {
  return machine.bmc ? `${machine.bmc.url}${machine.bmc.system ?? ""}` : null;
}

/** What the file says of a machine, without anything read from its BMC. */
function listed(machine: InventoryMachine): ProvidedDevice {
  return {
    providerId: machine.id,
    providerIpAddress: machine.ssh.host,
    providerLocation: machine.location,
    providerBmc: bmcLabel(machine),
  };
}

/** The status a BMC's PowerState means; undefined during a transition (the last status stays). */
function statusOf(powerState: string | null): ProviderStatus | undefined {
  if (powerState === "On") return ProviderStatus.Running;
  if (powerState === "Off") return ProviderStatus.Stopped;
  return undefined;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Machines you own, from an inventory file (see the module comment). */
export class InventoryProvider implements MachineProvider {
  readonly provider = Provider.Inventory;
  readonly power: PowerControl;
  readonly statuses: StatusSweep;
  readonly #options: InventoryProviderOptions;
  readonly #concurrency: number;
  readonly #pageSize: number;
  readonly #pageMs: number;

  constructor(options: InventoryProviderOptions) {
    this.#options = options;
    this.#concurrency = options.sweepConcurrency ?? 64;
    this.#pageSize = options.pageSize ?? 500;
    this.#pageMs = options.pageMs ?? 1000;
    for (const [name, value] of [["sweepConcurrency", this.#concurrency], ["pageSize", this.#pageSize]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`InventoryProvider: ${name} must be an integer >= 1: current value is ${value}`);
      }
    }
    this.statuses = { forEachPage: (onPage, o) => this.#sweep(onPage, o), exact: EXACT };
    this.power = {
      describe: (machine, action, o) => this.#describe(machine, action, o),
      act: (machine, action, o) => this.#act(machine, action, o),
    };
  }

  listMachines(): Promise<MachineListing> {
    const inventory = this.#options.inventory();
    const machines = inventory.machines.map((m) => ({
      ...listed(m),
      // A BMC is read by the updater; until then the status is not known.
      providerStatus: m.bmc ? ProviderStatus.Unknown : ProviderStatus.Running,
      providerStatusCause: m.bmc ? "its BMC has not been read yet" : null,
    }));
    return Promise.resolve({ machines, has: (id) => inventory.machine(id) !== undefined });
  }

  /** Where the initializer reaches a machine: the inventory entry's `ssh` (and `agentPath`, where given). */
  sshTarget(machine: MachineProvided): SshTarget {
    const entry = this.#entry(machine);
    return {
      username: entry.ssh.user,
      host: entry.ssh.host,
      port: entry.ssh.port,
      ...(entry.agentPath ? { remotePath: entry.agentPath } : {}),
    };
  }

  /** The host key a machine must present: pinned in the inventory, else the one recorded on first use. */
  async hostKeyPolicy(machine: MachineProvided): Promise<HostKeyPolicy> {
    const entry = this.#entry(machine);
    if (entry.hostKey) {
      return { kind: "pinned", key: entry.hostKey, where: `the inventory (line ${entry.line})` };
    }
    const recorded = await this.#options.bmdb.read((q) => q.getSshHostKey({ machineId: machine.machineId }));
    return { kind: "firstUse", recorded: recorded === null ? null : { key: recorded } };
  }

  /** Restarts the machine through its BMC (powers it on when it is off) and waits until it is up. */
  async recover(machine: MachineProvided, { signal }: { signal: AbortSignal }) {
    const { client, system } = this.#bmc(machine);
    const state = await client.readSystem(system, { signal });
    const options = { ...this.#options.power, signal };
    const result = state.powerState === "Off"
      ? await client.powerOn(system, options)
      : await client.restart(system, options);
    return { powerState: result.powerState, status: statusOf(result.powerState) ?? ProviderStatus.Unknown };
  }

  #entry(machine: MachineProvided): InventoryMachine {
    const entry = this.#options.inventory().machine(machine.providerId);
    if (!entry) {
      throw new Error(`machine ${machine.machineId} (${machine.providerId}) is no longer in the inventory`);
    }
    return entry;
  }

  /** The client of a machine's BMC and its system path. @throws {NoPowerControlError} no BMC */
  #bmc(machine: MachineProvided): { client: RedfishClient; system: string | undefined } {
    const entry = this.#entry(machine);
    const client = this.#clientOf(entry);
    if (!client) throw new NoPowerControlError(machine.machineId, machine.providerId);
    return { client, system: entry.bmc?.system ?? undefined };
  }

  #clientOf(entry: InventoryMachine): RedfishClient | undefined {
    if (!entry.bmc) return undefined;
    const inventory = this.#options.inventory();
    const credential = inventory.credentials(entry.bmc.credentials);
    // The inventory is checked at load: a BMC's credentials are there.
    if (!credential) throw new Error(`BMC credentials "${entry.bmc.credentials}" of ${entry.id} are not loaded`);
    const tls = typeof entry.bmc.tls === "string" ? entry.bmc.tls : { ca: entry.bmc.tls.ca };
    return this.#options.redfish.client({ url: entry.bmc.url, ...credential, tls });
  }

  /** Reads every machine's BMC, `sweepConcurrency` at a time, and hands the reports over a page at a time. */
  async #sweep(onPage: (page: ProvidedDevice[]) => Promise<void>, { signal }: { signal?: AbortSignal }) {
    const inventory = this.#options.inventory();
    const pending: ProvidedDevice[] = [];
    let flushing = Promise.resolve();
    let firstPendingAt = 0;
    /** Hands the pending reports over (after the previous page), leaving out machines no longer listed. */
    const flush = () => {
      const page = pending.splice(0);
      flushing = flushing.then(() => {
        const current = this.#options.inventory();
        const still = page.filter((d) => current.machine(d.providerId) !== undefined);
        return still.length > 0 ? onPage(still) : undefined;
      });
      return flushing;
    };
    const report = (device: ProvidedDevice) => {
      if (pending.length === 0) firstPendingAt = performance.now();
      pending.push(device);
      if (pending.length >= this.#pageSize || performance.now() - firstPendingAt >= this.#pageMs) void flush();
    };
    const queue = [...inventory.machines];
    const worker = async () => {
      for (let entry = queue.shift(); entry; entry = queue.shift()) {
        signal?.throwIfAborted();
        report(await this.#readStatus(entry, signal));
      }
    };
    const timer = setInterval(() => {
      if (pending.length > 0) void flush();
    }, this.#pageMs);
    try {
      await Promise.all(Array.from({ length: Math.min(this.#concurrency, queue.length) }, worker));
      await flush();
    } finally {
      clearInterval(timer);
      await flushing.catch(() => {});
    }
    await flushing;
  }

  async #readStatus(entry: InventoryMachine, signal?: AbortSignal): Promise<ProvidedDevice> {
    const base = listed(entry);
    const client = this.#clientOf(entry);
    if (!client) {
      return { ...base, providerStatus: ProviderStatus.Running, providerPowerState: null, providerHealth: null };
    }
    try {
      const state = await client.readSystem(entry.bmc?.system ?? undefined, { signal });
      return {
        ...base,
        providerStatus: statusOf(state.powerState),
        providerPowerState: state.powerState,
        providerHealth: state.health,
        providerStatusCause: null,
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      return {
        ...base,
        providerStatus: ProviderStatus.Unknown,
        providerPowerState: null,
        providerHealth: null,
        providerStatusCause: `BMC ${bmcLabel(entry)} could not be read: ${message(error)}`.slice(0, 2000),
      };
    }
  }

  async #describe(machine: MachineProvided, action: PowerAction, { signal }: { signal?: AbortSignal }) {
    const { client, system } = this.#bmc(machine);
    const state: SystemState = await client.readSystem(system, { signal });
    const { description } = client.plan(action, state, this.#options.power);
    return `${description}, to ${state.path} at ${client.origin}`;
  }

  async #act(machine: MachineProvided, action: PowerAction, { signal }: { signal: AbortSignal }) {
    const { client, system } = this.#bmc(machine);
    const options = { ...this.#options.power, signal };
    const result: PowerActionResult = action === "on"
      ? await client.powerOn(system, options)
      : action === "off"
      ? await client.powerOff(system, options)
      : await client.restart(system, options);
    const outcome: PowerOutcome = {
      sent: result.sent,
      powerState: result.powerState,
      status: statusOf(result.powerState) ?? ProviderStatus.Unknown,
    };
    return outcome;
  }
}
