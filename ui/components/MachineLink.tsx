/**
 * `MachineLink`: a machine id linking to its page.
 *
 * @module
 */
import { machineHref } from "../router.ts";
import { Link } from "./Link.tsx";

export function MachineLink(props: { machineId: string }) {
  return (
    <Link href={machineHref(props.machineId)} class="mono" title={`Machine ${props.machineId}`}>
      {props.machineId}
    </Link>
  );
}
