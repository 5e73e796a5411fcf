/**
 * Whether a reload changed anything that matters: the machines (wherever they
 * moved in the file) and the credentials they use.
 *
 * @module
 */
import type { Inventory } from "./inventory.ts";
import type { InventoryMachine } from "./machine.ts";

/**
 * True when `a` and `b` hold the same machines in the same order, field for
 * field (CA text included), and each machine's credentials are the same.
 * Line numbers do not count: a comment added above a machine changes nothing.
 */
export function sameInventory(a: Inventory, b: Inventory): boolean {
  if (a.machines.length !== b.machines.length) return false;
  return a.machines.every((machine, index) => {
    const other = b.machines[index];
    if (JSON.stringify(withoutLine(machine)) !== JSON.stringify(withoutLine(other))) return false;
    if (machine.bmc === null) return true;
    const mine = a.credentials(machine.bmc.credentials);
    const theirs = b.credentials(machine.bmc.credentials);
    return mine?.username === theirs?.username && mine?.password === theirs?.password;
  });
}

/** A machine's fields but its line, in one key order (JSON.stringify compares them in order). */
function withoutLine(machine: InventoryMachine): Omit<InventoryMachine, "line"> {
  const { id, ssh, location, hostKey, bmc, agentPath } = machine;
  return {
    id,
    ssh: { user: ssh.user, host: ssh.host, port: ssh.port },
    location,
    hostKey,
    bmc: bmc === null ? null : {
      url: bmc.url,
      system: bmc.system,
      credentials: bmc.credentials,
      tls: typeof bmc.tls === "string" ? bmc.tls : { ca: bmc.tls.ca, caPath: bmc.tls.caPath },
    },
    agentPath,
  };
}
