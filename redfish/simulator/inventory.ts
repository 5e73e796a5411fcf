/**
 * The inventory YAML and credentials YAML that `deno task bmc-sim` writes
 * for Drover: every simulated system as a machine, reached through its BMC.
 * The format is the one Drover's inventory parser reads:
 *
 * ```yaml
 * machines:
 *   - id: sim-0001            # unique [A-Za-z0-9._-]{1,128}
 *     ssh: root@127.0.0.1:22  # placeholder: the simulated machines have no SSH
 *     location: sim-rack-01   # ten machines per rack
 *     bmc:
 *       url: http://127.0.0.1:41234
 *       system: /redfish/v1/Systems/1
 *       credentials: sim
 *       tls: insecure          # http needs insecure
 * ```
 *
 * and `sim: { username: admin, password: … }`.
 *
 * @module
 */

/** The name the inventory's machines give their credentials by. */
export const CREDENTIALS_NAME = "sim";

/** Machines per rack in `location`. */
const MACHINES_PER_RACK = 10;

/** What the inventory needs of a BMC. */
export interface InventoryBmc {
  readonly url: string;
  readonly systems: readonly { readonly path: string }[];
}

/** The inventory YAML: the systems of `bmcs` in order, numbered from sim-0001. */
export function inventoryYaml(bmcs: readonly InventoryBmc[]): string {
  const systems = bmcs.flatMap((bmc) => bmc.systems.map((system) => ({ url: bmc.url, path: system.path })));
  const idDigits = Math.max(4, String(systems.length).length);
  const rackDigits = Math.max(2, String(Math.ceil(systems.length / MACHINES_PER_RACK)).length);
  const lines = ["machines:"];
  systems.forEach(({ url, path }, index) => {
    const rack = Math.floor(index / MACHINES_PER_RACK) + 1;
    lines.push(
      `  - id: sim-${String(index + 1).padStart(idDigits, "0")}`,
      "    ssh: root@127.0.0.1:22",
      `    location: sim-rack-${String(rack).padStart(rackDigits, "0")}`,
      "    bmc:",
      `      url: ${scalar(url)}`,
      `      system: ${scalar(path)}`,
      `      credentials: ${CREDENTIALS_NAME}`,
      // The inventory's only other value is a CA file; the simulator's BMCs serve plain http (or a throwaway cert).
      "      tls: insecure",
    );
  });
  return lines.join("\n") + "\n";
}

/** The credentials YAML: `sim: { username: …, password: … }`. */
export function credentialsYaml(credentials: { username: string; password: string }): string {
  return `${CREDENTIALS_NAME}: { username: ${scalar(credentials.username)}, password: ${
    scalar(credentials.password)
  } }\n`;
}

/** Writes the inventory to `path`. */
export async function writeInventory(path: string, bmcs: readonly InventoryBmc[]): Promise<void> {
  await Deno.writeTextFile(path, inventoryYaml(bmcs));
}

/** Writes the credentials to `path`, readable by the owner only (0600, also when the file existed). */
export async function writeCredentials(
  path: string,
  credentials: { username: string; password: string },
): Promise<void> {
  await Deno.writeTextFile(path, "", { mode: 0o600 });
  await Deno.chmod(path, 0o600);
  await Deno.writeTextFile(path, credentialsYaml(credentials));
}

/** A YAML scalar: plain when that is safe, else double-quoted (JSON's quoting is YAML's). */
function scalar(value: string): string {
  return /^[A-Za-z0-9._\/:@-]+$/.test(value) && !/^[-:@]/.test(value) ? value : JSON.stringify(value);
}
