/**
 * What the dashboard shows of the inventory file: where it is, when it was
 * last loaded, its machines per location, and the problem of the last
 * reload while there is one (the last good inventory keeps running).
 *
 * @module
 */
import type { Inventory, InventoryError } from "../inventory/mod.ts";

/** The inventory as the Overview and the Reservations view show it. */
export interface InventoryStatus {
  /** The inventory file; null for the demo's simulated fleet. */
  path: string | null;
  /** When the inventory now running was loaded (ISO 8601). */
  loadedAt: string;
  machines: number;
  withoutBmc: number;
  /** Per location (null: none given), in location order. */
  locations: { location: string | null; machines: number; withoutBmc: number }[];
  /** The last reload's problems, one per line, until a reload succeeds; null when there are none. */
  problem: string | null;
  /** When that reload was tried (ISO 8601). */
  problemAt: string | null;
}

/** The status of `inventory` (the one running) with the problem of the last reload, if it failed. */
export function inventoryStatus(
  inventory: Inventory,
  options: { simulated?: boolean; problem?: InventoryError | null; problemAt?: Date | null } = {},
): InventoryStatus {
  const locations = new Map<string | null, { machines: number; withoutBmc: number }>();
  for (const m of inventory.machines) {
    const at = locations.get(m.location) ?? { machines: 0, withoutBmc: 0 };
    at.machines++;
    if (!m.bmc) at.withoutBmc++;
    locations.set(m.location, at);
  }
  return {
    path: options.simulated ? null : inventory.path,
    loadedAt: inventory.loadedAt.toISOString(),
    machines: inventory.machines.length,
    withoutBmc: inventory.machines.filter((m) => !m.bmc).length,
    locations: [...locations].map(([location, counts]) => ({ location, ...counts }))
      .sort((a, b) => (a.location ?? "\uffff").localeCompare(b.location ?? "\uffff")),
    problem: options.problem ? options.problem.message : null,
    problemAt: options.problem ? (options.problemAt ?? new Date()).toISOString() : null,
  };
}
