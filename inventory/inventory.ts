/**
 * A loaded inventory: the machines of the inventory file, by id, and the BMC
 * credentials they name.
 *
 * @module
 */
import type { BmcCredential } from "./credentials.ts";
import type { InventoryMachine } from "./machine.ts";

/** The machines an operator owns and the credentials of their BMCs, as read at `loadedAt`. */
export interface Inventory {
  /** The inventory file, as named to {@linkcode loadInventory}. */
  readonly path: string;
  /** Every machine, in file order. */
  readonly machines: readonly InventoryMachine[];
  /** The machine with this id (the provider id), if the inventory has it. */
  machine(id: string): InventoryMachine | undefined;
  /** The credentials file's entry of this name (a machine's `bmc.credentials`), if there is one. */
  credentials(name: string): BmcCredential | undefined;
  /** When the files were read. */
  readonly loadedAt: Date;
}

/** An inventory of `machines` (already checked) and `credentials`, loaded now. */
export function createInventory(
  path: string,
  contents: { machines: InventoryMachine[]; credentials: Map<string, BmcCredential> },
): Inventory {
  return new CheckedInventory(path, contents.machines, contents.credentials);
}

class CheckedInventory implements Inventory {
  readonly loadedAt = new Date();
  readonly machines: readonly InventoryMachine[];
  readonly #byId: Map<string, InventoryMachine>;
  // Private, so inspecting an inventory never shows a credential.
  readonly #credentials: Map<string, BmcCredential>;

  constructor(readonly path: string, machines: InventoryMachine[], credentials: Map<string, BmcCredential>) {
    this.machines = Object.freeze([...machines]);
    this.#byId = new Map(machines.map((m) => [m.id, m]));
    this.#credentials = credentials;
  }

  machine(id: string): InventoryMachine | undefined {
    return this.#byId.get(id);
  }

  credentials(name: string): BmcCredential | undefined {
    return this.#credentials.get(name);
  }
}
