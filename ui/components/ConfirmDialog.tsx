/**
 * `ConfirmDialog`: a modal `<dialog>` asking to confirm an action. The
 * browser traps focus in it and closes it on Escape; focus starts on the
 * safe choice, so a stray Enter does not confirm.
 *
 * @module
 */
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { ErrorNote } from "./ErrorNote.tsx";

export interface ConfirmDialogProps {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  dismissLabel: string;
  busy: boolean;
  /** Confirming is not possible yet (e.g. while what it would do is being read); dismissing still is. */
  confirmDisabled?: boolean;
  error: string | undefined;
  onConfirm: () => void;
  /** Escape, the dismiss button, or the dialog closed otherwise. */
  onDismiss: () => void;
}

export function ConfirmDialog(props: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const dismiss = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    dismiss.current?.focus();
    return () => {
      if (element?.open) element.close();
    };
  }, []);
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" onClose={props.onDismiss}>
      <h3 id="confirm-title">{props.title}</h3>
      <div class="confirm-body">{props.children}</div>
      <ErrorNote message={props.error} />
      <div class="confirm-buttons">
        <button type="button" ref={dismiss} onClick={props.onDismiss} disabled={props.busy}>
          {props.dismissLabel}
        </button>
        <button type="button" class="danger" onClick={props.onConfirm} disabled={props.busy || props.confirmDisabled}>
          {props.busy ? "Working…" : props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
