/**
 * The two operator actions as buttons: `CancelWorkButton` ("Cancel work",
 * confirmed in a dialog, then `POST work/cancel`) and `RetryButton`
 * ("Retry", `POST machines/:id/retry`). Neither changes the store: the row
 * changes or leaves when the event stream says so. A failure shows the API's
 * message beside the button.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { cancelWork, messageOf, retryMachine } from "../api.ts";
import { useConfirmedAction } from "../use_confirmed_action.ts";
import { ConfirmDialog } from "./ConfirmDialog.tsx";
import { ErrorNote } from "./ErrorNote.tsx";

export interface CancelWorkButtonProps {
  machineId: string;
  process: string;
  component: string;
  sessionId: string;
  /** Set once a cancel was requested (by anyone): the button then says so. */
  cancelRequestedAt: string | null | undefined;
}

export function CancelWorkButton(props: CancelWorkButtonProps) {
  const requested = useSignal(false);
  const action = useConfirmedAction(() => cancelWork(props.machineId, props.process), () => {
    requested.value = true;
  });

  if (props.cancelRequestedAt || requested.value) {
    return <span class="muted">Cancel requested</span>;
  }
  return (
    <>
      <button
        type="button"
        ref={action.trigger}
        class="danger-outline"
        onClick={action.show}
      >
        Cancel work
      </button>
      {action.open.value && (
        <ConfirmDialog
          title="Cancel this work?"
          confirmLabel="Yes, cancel work"
          dismissLabel="Keep it running"
          busy={action.busy.value}
          error={action.error.value}
          onConfirm={action.confirm}
          onDismiss={action.close}
        >
          <p>
            <strong>{props.process}</strong> on machine <span class="mono">{props.machineId}</span>, held by{" "}
            <strong>{props.component}</strong> (session <span class="mono">{props.sessionId}</span>).
          </p>
          <p>
            The holder stops within one heartbeat and commits nothing; the machine is released, and history records it
            as Canceled by an operator.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

export function RetryButton(props: { machineId: string; process?: string }) {
  const busy = useSignal(false);
  const done = useSignal<string | undefined>(undefined);
  const error = useSignal<string | undefined>(undefined);
  const retry = async () => {
    busy.value = true;
    error.value = undefined;
    try {
      const reply = await retryMachine(props.machineId, props.process);
      done.value = reply.backoffsCleared > 0 ? "Retried" : "Nothing to retry";
    } catch (e) {
      error.value = messageOf(e);
    } finally {
      busy.value = false;
    }
  };
  if (done.value) return <span class="muted">{done.value}</span>;
  return (
    <span class="action">
      <button type="button" onClick={retry} disabled={busy.value}>{busy.value ? "Retrying…" : "Retry"}</button>
      <ErrorNote message={error.value} />
    </span>
  );
}
