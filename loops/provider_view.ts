/**
 * What the BMDB records of a provider's device: its status in the BMDB's
 * terms, its public IPv4 address, its location (metro) and reservation.
 * The provisioner and the updater both write `machine_provided` from it.
 *
 * @module
 */
import { ProviderStatus } from "../bmdb/mod.ts";
import type { Device, DeviceState } from "../equinix/mod.ts";

const STATUS_OF: Readonly<Record<DeviceState, ProviderStatus>> = {
  queued: ProviderStatus.Provisioning,
  provisioning: ProviderStatus.Provisioning,
  reinstalling: ProviderStatus.Provisioning,
  active: ProviderStatus.Running,
  // A reboot passes through these; the machine is still in service.
  powering_off: ProviderStatus.Running,
  powering_on: ProviderStatus.Running,
  inactive: ProviderStatus.Stopped,
  failed: ProviderStatus.ProvisioningFailedPermanent,
  deprovisioning: ProviderStatus.Missing,
  deleted: ProviderStatus.Missing,
};

/** The `machine_provided` fields of a device. */
export interface ProvidedFields {
  providerId: string;
  providerReservationId: string | null;
  providerIpAddress: string | null;
  providerLocation: string | null;
  providerStatus: ProviderStatus;
}

export function providedFields(device: Device): ProvidedFields {
  const publicV4 = device.ip_addresses?.find((ip) => ip.public === true && ip.address_family === 4);
  return {
    providerId: device.id,
    providerReservationId: device.hardware_reservation?.id ?? null,
    providerIpAddress: publicV4?.address ?? null,
    providerLocation: device.metro?.code ?? null,
    providerStatus: STATUS_OF[device.state],
  };
}
