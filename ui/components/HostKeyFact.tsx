/**
 * `HostKeyFact`: the SSH host key Drover recorded for a machine the first
 * time it reached it (its type and the end of the key, with when), and for
 * admins "Clear host key" (confirmed in a dialog, then `DELETE
 * machines/:id/ssh-host-key`): Drover then trusts the next key the machine
 * presents, e.g. after a reinstall made a new one.
 *
 * @module
 */
import { clearSshHostKey } from "../api.ts";
import { useConfirmedAction } from "../use_confirmed_action.ts";
import { shortHostKey } from "../format.ts";
import { ConfirmDialog } from "./ConfirmDialog.tsx";
import { Ago, At } from "./Time.tsx";

export interface HostKeyFactProps {
  machineId: string;
  /** The machine's inventory id, which operators know it by. */
  name: string | null;
  hostKey: { key: string; recordedAt: string } | null;
  /** Offer "Clear host key" (admin token). */
  canAct: boolean;
  /** After the key was cleared (the event stream does not say so: read the machine again). */
  onCleared: () => void;
}

export function HostKeyFact(props: HostKeyFactProps) {
  const action = useConfirmedAction(() => clearSshHostKey(props.machineId), props.onCleared);

  if (!props.hostKey) {
    return <span class="muted">none recorded: Drover records the key the machine presents next</span>;
  }
  const { type, tail } = shortHostKey(props.hostKey.key);
  const key = props.hostKey.key;
  // A function, not one element: it is shown twice.
  const short = () => <span class="mono" title={key}>{type} …{tail}</span>;
  return (
    <>
      {short()}{" "}
      <span class="muted">
        recorded <At iso={props.hostKey.recordedAt} /> (<Ago iso={props.hostKey.recordedAt} />)
      </span>
      {props.canAct && (
        <div>
          <button
            type="button"
            ref={action.trigger}
            class="danger-outline small"
            onClick={action.show}
          >
            Clear host key
          </button>
        </div>
      )}
      {action.open.value && (
        <ConfirmDialog
          title="Clear the recorded host key?"
          confirmLabel="Yes, clear host key"
          dismissLabel="Keep the key"
          busy={action.busy.value}
          error={action.error.value}
          onConfirm={action.confirm}
          onDismiss={action.close}
        >
          <p>
            Machine {props.name && <strong class="mono">{props.name}</strong>}{" "}
            <span class={props.name ? "mono muted" : "mono"}>
              {props.name ? `(${props.machineId})` : props.machineId}
            </span>{" "}
            presented {short()} when Drover first reached it.
          </p>
          <p>
            Drover will trust the next key the machine presents, and record that one. Clear it only when you know why
            the key changed (a reinstall, a new disk); history records it as HostKeyCleared by you.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
