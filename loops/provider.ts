/**
 * What the loops need of a provider of machines, as one interface: Equinix
 * Metal (`equinix_provider.ts`) and an inventory of machines you own
 * (`inventory_provider.ts`) are its implementations, and one Drover may run
 * several at once (each machine row says which provider it belongs to).
 *
 * Every provider lists its machines, reports their status and recovers a
 * machine whose agent went quiet. What only some can do is a capability that
 * is present in the implementation's type or absent from it, never a method
 * that throws "not supported" at run time:
 *
 * - `creation`: the provider makes machines on request (Equinix, from
 *   hardware reservations). An inventory cannot: its machines exist.
 * - `power`: operator power actions through a BMC (an inventory's Redfish
 *   BMCs). Equinix Metal has no power-state API of that kind.
 *
 * @module
 */
import type { MachineProvided, ProvidedDevice, ProvidedField, Provider, ProviderStatus } from "../bmdb/mod.ts";

/** What a provider lists for the provisioner. */
export interface MachineListing {
  /** The machines the BMDB should have (Equinix: the devices Drover manages; an inventory: its entries). */
  machines: ProvidedDevice[];
  /** Whether the provider still has a machine, managed or not (a BMDB machine whose id is absent is missing). */
  has(providerId: string): boolean;
}

/** A provider's status reports for the updater. */
export interface StatusSweep {
  /**
   * Calls `onPage` with the status of every machine, a page at a time as it
   * is read, until all were read; `onPage` is awaited before the next page.
   */
  forEachPage(onPage: (page: ProvidedDevice[]) => Promise<void>, options: { signal?: AbortSignal }): Promise<void>;
  /**
   * Fields a report states exactly: written as given, null clearing them
   * (the others keep their value when a report leaves them out).
   */
  readonly exact: readonly ProvidedField[];
}

/** A provider that makes machines on request. */
export interface MachineCreation<Slot> {
  /** Where a machine could be made now (Equinix: provisionable reservations without a device). */
  freeSlots(options: { signal?: AbortSignal }): Promise<Slot[]>;
  /**
   * Makes one machine in `slot`; undefined when the slot turned out unusable
   * or taken by someone else (logged by the provider). Safe to retry: a
   * lost reply never makes a second machine.
   */
  create(slot: Slot, options: { signal?: AbortSignal }): Promise<ProvidedDevice | undefined>;
}

/** An operator's power action. */
export type PowerAction = "on" | "off" | "restart";

/** What a power action did, for history and the operator. */
export interface PowerOutcome {
  /** What was sent, in order (e.g. ["GracefulShutdown", "ForceOff"]); empty when the machine was already there. */
  sent: string[];
  /** The power state seen when it settled. */
  powerState: string;
  /** The status that power state means. */
  status: ProviderStatus;
}

/** Power control through a machine's BMC. */
export interface PowerControl {
  /**
   * What `action` would send to the machine's BMC, for the operator's
   * confirmation, e.g. "GracefulRestart, then ForceRestart if it has not
   * restarted after 120 s, to https://10.21.4.17/redfish/v1/Systems/1".
   * @throws {NoPowerControlError} the machine has no BMC
   */
  describe(machine: MachineProvided, action: PowerAction, options: { signal?: AbortSignal }): Promise<string>;
  /**
   * Carries out `action` and resolves once the power state settled.
   * @throws {NoPowerControlError} the machine has no BMC; the BMC's error otherwise
   */
  act(machine: MachineProvided, action: PowerAction, options: { signal: AbortSignal }): Promise<PowerOutcome>;
}

/** A provider of machines, as the loops use it. */
export interface MachineProvider {
  /** The BMDB's name for it (`machine_provided.provider`). */
  readonly provider: Provider;
  /** Lists its machines, for the provisioner. */
  listMachines(options: { signal?: AbortSignal }): Promise<MachineListing>;
  /** Reads its machines' status, for the updater. */
  readonly statuses: StatusSweep;
  /**
   * Brings back a machine whose agent went quiet (or that is powered off
   * behind Drover's back): restarts it, or powers it on, and resolves once it
   * is up again, so a fresh agent can be started; with the power state seen
   * then, where the provider reads one (recorded at once, so the initializer
   * need not wait for the updater's next sweep).
   * @throws an error that says what failed and what an operator can do
   */
  recover(
    machine: MachineProvided,
    options: { signal: AbortSignal },
  ): Promise<{ powerState: string; status: ProviderStatus } | void>;
  /** Present when the provider makes machines on request. */
  readonly creation?: MachineCreation<unknown>;
  /** Present when the provider has power control (per machine: those with a BMC). */
  readonly power?: PowerControl;
}

/** A machine has no BMC, so Drover cannot power it or restart it: an operator must. */
export class NoPowerControlError extends Error {
  constructor(readonly machineId: string, readonly providerId: string) {
    super(
      `machine ${machineId} (${providerId}) has no BMC in the inventory: Drover cannot power it or restart it. ` +
        `Power-cycle it by hand (or add its bmc to the inventory), then Retry.`,
    );
    this.name = "NoPowerControlError";
  }
}
