/**
 * IP addresses for simulated devices: each device gets a public IPv4 /31
 * (counting up from 147.75.0.0, an Equinix Metal /16; past it they are made
 * up) and a private IPv4 /31 (from 10.64.0.0/10), as reserved hardware does.
 * Addresses are never reused within one simulator, so a deleted device's
 * address does not reappear; 2^21 - 1 devices (the private range) can be
 * created in one simulator's life, more than any fleet Drover aims at.
 *
 * @module
 */
import type { IPAssignment } from "../schemas.ts";

const PUBLIC_BASE = ipv4ToNumber("147.75.0.0");
const PRIVATE_BASE = ipv4ToNumber("10.64.0.0");
/** /31 blocks in 10.64.0.0/10; the public addresses count up as far. */
const BLOCKS = 1 << 21;

/** The addresses of one device. */
export interface DeviceAddresses {
  publicIPv4: IPAssignment & { address: string };
  privateIPv4: IPAssignment & { address: string };
}

/** Hands out unique address pairs. */
export class AddressPool {
  #next = 1;

  /** The next device's addresses. @throws {RangeError} when the private range is used up. */
  allocate(deviceHref: string): DeviceAddresses {
    const block = this.#next++;
    if (block >= BLOCKS) throw new RangeError(`Cannot allocate addresses: all ${BLOCKS} used`);
    return {
      publicIPv4: assignment(PUBLIC_BASE + 2 * block, { public: true, deviceHref }),
      privateIPv4: assignment(PRIVATE_BASE + 2 * block, { public: false, deviceHref }),
    };
  }
}

/** A /31: the gateway is the even address, the device the odd one. */
function assignment(network: number, { public: isPublic, deviceHref }: { public: boolean; deviceHref: string }) {
  const id = crypto.randomUUID();
  return {
    id,
    href: `/metal/v1/ips/${id}`,
    address: numberToIPv4(network + 1),
    gateway: numberToIPv4(network),
    network: numberToIPv4(network),
    netmask: "255.255.255.254",
    cidr: 31,
    address_family: 4,
    public: isPublic,
    management: true,
    manageable: true,
    enabled: true,
    assigned_to: { href: deviceHref },
    created_at: new Date().toISOString(),
  };
}

function ipv4ToNumber(address: string): number {
  return address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

function numberToIPv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}
