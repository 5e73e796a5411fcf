/**
 * The inventory of machines people own: the operator's inventory file
 * (`DROVER_INVENTORY`) lists each machine (its id, SSH login, location, host
 * key and BMC), and the BMC credentials file (`DROVER_BMC_CREDENTIALS`, mode
 * 0600) holds the logins the BMCs name. Both are YAML (or JSON).
 *
 * - {@linkcode loadInventory} reads and checks both (and the CA files BMCs
 *   name) and returns an {@linkcode Inventory}, or throws an
 *   {@linkcode InventoryError} listing every problem at its file, line and
 *   column. No problem, message or log ever shows a password.
 * - {@linkcode InventoryWatcher} keeps it current as the files change, keeping
 *   the last good inventory while they have problems.
 * - {@linkcode parseInventory} and {@linkcode parseCredentials} check text alone.
 *
 * ```ts
 * const watcher = await InventoryWatcher.start({ inventoryPath, credentialsPath, onProblem: (e) => log.warn(e.message) });
 * Deno.addSignalListener("SIGHUP", () => void watcher.reload());
 * const machine = watcher.current.machine("ams1-r04-n17");
 * const login = machine?.bmc && watcher.current.credentials(machine.bmc.credentials);
 * await watcher.close();
 * ```
 *
 * @module
 */
export type { BmcTls, InventoryBmc } from "./bmc.ts";
export { type BmcCredential, parseCredentials } from "./credentials.ts";
export type { Inventory } from "./inventory.ts";
export { InventoryWatcher, type InventoryWatcherOptions } from "./inventory_watcher.ts";
export { loadInventory, type LoadInventoryOptions } from "./load_inventory.ts";
export type { InventoryMachine } from "./machine.ts";
export { parseInventory } from "./parse_inventory.ts";
export { formatInventoryProblem, InventoryError, type InventoryProblem } from "./problem.ts";
export type { SshTarget } from "./ssh_target.ts";
