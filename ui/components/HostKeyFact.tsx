/**
 * `HostKeyFact`: the SSH host key Drover recorded for a machine the first
 * time it reached it (its type and the end of the key, with when), and for
 * admins "Clear host key" (confirmed in a dialog, then `DELETE
 * machines/:id/ssh-host-key`): Drover then trusts the next key the machine
 * presents, e.g. after a reinstall made a new one.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useRef } from "preact/hooks";
import { clearSshHostKey, messageOf } from "../api.ts";
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
  const open = useSignal(false);
  const busy = useSignal(false);
  const error = useSignal<string | undefined>(undefined);
  const trigger = useRef<HTMLButtonElement>(null);

  if (!props.hostKey) {
    return <span class="muted">none recorded: Drover records the key the machine presents next</span>;
  }
  const { type, tail } = shortHostKey(props.hostKey.key);
  const close = () => {
    if (busy.peek()) return;
    open.value = false;
    error.value = undefined;
    queueMicrotask(() => trigger.current?.isConnected && trigger.current.focus());
  };
  const confirm = async () => {
    busy.value = true;
    error.value = undefined;
    try {
      await clearSshHostKey(props.machineId);
      busy.value = false;
      open.value = false;
      props.onCleared();
    } catch (e) {
      busy.value = false;
      error.value = messageOf(e);
    }
  };
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
            ref={trigger}
            class="danger-outline small"
            onClick={() => {
              open.value = true;
            }}
          >
            Clear host key
          </button>
        </div>
      )}
      {open.value && (
        <ConfirmDialog
          title="Clear the recorded host key?"
          confirmLabel="Yes, clear host key"
          dismissLabel="Keep the key"
          busy={busy.value}
          error={error.value}
          onConfirm={confirm}
          onDismiss={close}
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
