/**
 * The provider's fixed vocabulary: metros, their facilities, plans and
 * operating systems, as the API presents them. Each gets a UUID the first
 * time it is used, stable for the simulator's lifetime.
 *
 * @module
 */
import type { Facility, Metro, Plan } from "../schemas.ts";

/** Names of well-known metros; others are named after their code. */
const METROS: Readonly<Record<string, { name: string; country: string; facility: string }>> = {
  am: { name: "Amsterdam", country: "NL", facility: "am6" },
  at: { name: "Atlanta", country: "US", facility: "at4" },
  ch: { name: "Chicago", country: "US", facility: "ch3" },
  da: { name: "Dallas", country: "US", facility: "da11" },
  fr: { name: "Frankfurt", country: "DE", facility: "fr2" },
  ld: { name: "London", country: "GB", facility: "ld7" },
  ny: { name: "New York", country: "US", facility: "ny5" },
  sg: { name: "Singapore", country: "SG", facility: "sg4" },
  sv: { name: "Silicon Valley", country: "US", facility: "sv15" },
  ty: { name: "Tokyo", country: "JP", facility: "ty11" },
};

const OPERATING_SYSTEMS: Readonly<Record<string, string>> = {
  ubuntu_22_04: "Ubuntu 22.04 LTS",
  ubuntu_24_04: "Ubuntu 24.04 LTS",
  debian_12: "Debian 12",
  rocky_9: "Rocky Linux 9",
  flatcar_stable: "Flatcar Container Linux (stable)",
  custom_ipxe: "Custom iPXE",
};

/** A metro with its one facility. */
export interface Site {
  metro: Required<Metro>;
  facility: Required<Facility> & { metro: Required<Metro> };
}

/** Metros, facilities and plans with stable ids. */
export class Catalog {
  readonly #sites = new Map<string, Site>();
  readonly #plans = new Map<string, Required<Plan>>();

  /** The metro `code` (lower case, e.g. "sv") and its facility. */
  site(code: string): Site {
    let site = this.#sites.get(code);
    if (!site) {
      const known = METROS[code];
      const metro = {
        id: crypto.randomUUID(),
        code,
        name: known?.name ?? code.toUpperCase(),
        country: known?.country ?? "US",
      };
      const facilityCode = known?.facility ?? `${code}1`;
      const facility = {
        id: crypto.randomUUID(),
        code: facilityCode,
        name: `${metro.name} ${facilityCode.slice(code.length)}`,
        metro,
      };
      site = { metro, facility };
      this.#sites.set(code, site);
    }
    return site;
  }

  /** The plan with this slug (e.g. "c3.small.x86"). */
  plan(slug: string): Required<Plan> {
    let plan = this.#plans.get(slug);
    if (!plan) {
      plan = { id: crypto.randomUUID(), slug, name: slug };
      this.#plans.set(slug, plan);
    }
    return plan;
  }

  /** The operating system with this slug, as a device shows it. */
  operatingSystem(slug: string): { slug: string; name: string } {
    return { slug, name: OPERATING_SYSTEMS[slug] ?? slug };
  }
}
