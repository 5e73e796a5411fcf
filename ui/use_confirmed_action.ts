/**
 * `useConfirmedAction`: the state of a button whose action is confirmed in a
 * dialog first (Cancel work, Clear host key): whether the dialog is open,
 * whether the action is under way, its error, and the button to focus again
 * when the dialog closes.
 *
 * @module
 */
import { type Signal, useSignal } from "@preact/signals";
import type { RefObject } from "preact";
import { useRef } from "preact/hooks";
import { messageOf } from "./api.ts";

export interface ConfirmedAction {
  open: Signal<boolean>;
  busy: Signal<boolean>;
  /** The action's failure, shown in the dialog (it stays open). */
  error: Signal<string | undefined>;
  /** The button that opens the dialog: focused again when it closes. */
  trigger: RefObject<HTMLButtonElement | null>;
  show(): void;
  /** Closes the dialog (not while the action runs). */
  close(): void;
  /** Runs the action; on success closes the dialog and calls `onDone`, else shows its error. */
  confirm(): Promise<void>;
}

export function useConfirmedAction(act: () => Promise<unknown>, onDone?: () => void): ConfirmedAction {
  const open = useSignal(false);
  const busy = useSignal(false);
  const error = useSignal<string | undefined>(undefined);
  const trigger = useRef<HTMLButtonElement>(null);
  const close = () => {
    if (busy.peek()) return;
    open.value = false;
    error.value = undefined;
    // The row (or the button) may have gone meanwhile; focus it only if it is still there.
    queueMicrotask(() => trigger.current?.isConnected && trigger.current.focus());
  };
  return {
    open,
    busy,
    error,
    trigger,
    show: () => {
      open.value = true;
    },
    close,
    async confirm() {
      busy.value = true;
      error.value = undefined;
      try {
        await act();
        busy.value = false;
        close();
        onDone?.();
      } catch (e) {
        busy.value = false;
        error.value = messageOf(e);
      }
    },
  };
}
