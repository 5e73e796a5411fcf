/**
 * `PowerPanel`: "Power on", "Power off" and "Restart" for a machine with a
 * BMC. Each opens a confirmation that first asks the server what exactly it
 * would send (`GET machines/:id/power?action=`, read from the BMC), then
 * starts the action (`POST machines/:id/power`, 202). The action runs as
 * work (process PowerAction) and lands in history: the page shows both as
 * the event stream reports them; nothing here changes the store.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { describePowerAction, messageOf, requestPowerAction } from "../api.ts";
import { formatTime } from "../format.ts";
import { POWER_ACTIONS, type PowerAction } from "../wire.ts";
import { ConfirmDialog } from "./ConfirmDialog.tsx";

export interface PowerPanelProps {
  machineId: string;
  /** The machine's inventory id, which operators know it by. */
  name: string | null;
  /** Set while an operator holds the machine off (it stays off until powered on). */
  heldOff: { at: string; by: string | null } | null;
  /** A power action is under way on the machine (its PowerAction work). */
  actionRunning: boolean;
}

const LABEL: Record<PowerAction, { button: string; title: string; confirm: string; done: string }> = {
  on: { button: "Power on", title: "Power on this machine?", confirm: "Yes, power on", done: "Power on" },
  off: { button: "Power off", title: "Power off this machine?", confirm: "Yes, power off", done: "Power off" },
  restart: { button: "Restart", title: "Restart this machine?", confirm: "Yes, restart", done: "Restart" },
};

function Consequence(props: { action: PowerAction; heldOff: boolean }) {
  switch (props.action) {
    case "on":
      return (
        <p>
          The machine boots; Drover starts a fresh agent on it once it runs.
          {props.heldOff && " This ends the hold: the loops look after it again."}
        </p>
      );
    case "off":
      return (
        <p>
          Its agent, and whatever else runs on it, stops. It then stays off: Drover holds it off (the recoverer does not
          power it back on, the loops leave it alone) until someone powers it on here.
        </p>
      );
    case "restart":
      return (
        <p>
          Its agent stops with it; Drover starts a fresh one once it runs again.
          {props.heldOff && " This ends the hold: the loops look after it again."}
        </p>
      );
  }
}

export function PowerPanel(props: PowerPanelProps) {
  const pending = useSignal<PowerAction | undefined>(undefined);
  const accepted = useSignal<{ action: PowerAction; at: string } | undefined>(undefined);
  const triggers = useRef<Partial<Record<PowerAction, HTMLButtonElement | null>>>({});

  const close = (action: PowerAction) => {
    pending.value = undefined;
    queueMicrotask(() => {
      const trigger = triggers.current[action];
      if (trigger?.isConnected && !trigger.disabled) trigger.focus();
    });
  };

  return (
    <>
      <div class="button-row">
        {POWER_ACTIONS.map((action) => (
          <button
            key={action}
            type="button"
            ref={(b) => {
              triggers.current[action] = b;
            }}
            class={action === "on" ? undefined : "danger-outline"}
            disabled={props.actionRunning}
            onClick={() => {
              pending.value = action;
            }}
          >
            {LABEL[action].button}
          </button>
        ))}
      </div>
      {props.actionRunning && <p class="muted">A power action is under way (see Work): wait for it, or cancel it.</p>}
      {accepted.value && !props.actionRunning && (
        <p class="muted" role="status">
          {LABEL[accepted.value.action].done} requested at{" "}
          {formatTime(accepted.value.at)}: it runs as work (PowerAction), then shows in the timeline.
        </p>
      )}
      {pending.value && (
        <PowerDialog
          key={pending.value}
          machineId={props.machineId}
          name={props.name}
          action={pending.value}
          heldOff={props.heldOff !== null}
          onAccepted={(action) => {
            accepted.value = { action, at: new Date().toISOString() };
            close(action);
          }}
          onDismiss={close}
        />
      )}
    </>
  );
}

function PowerDialog(props: {
  machineId: string;
  name: string | null;
  action: PowerAction;
  heldOff: boolean;
  onAccepted: (action: PowerAction) => void;
  onDismiss: (action: PowerAction) => void;
}) {
  const description = useSignal<string | undefined>(undefined);
  const describeError = useSignal<string | undefined>(undefined);
  const busy = useSignal(false);
  const error = useSignal<string | undefined>(undefined);

  useEffect(() => {
    const controller = new AbortController();
    describePowerAction(props.machineId, props.action, controller.signal).then(
      (reply) => {
        description.value = reply.description;
      },
      (e) => {
        if (!controller.signal.aborted) describeError.value = messageOf(e);
      },
    );
    return () => controller.abort();
  }, []);

  const confirm = async () => {
    busy.value = true;
    error.value = undefined;
    try {
      await requestPowerAction(props.machineId, props.action);
      busy.value = false;
      props.onAccepted(props.action);
    } catch (e) {
      busy.value = false;
      error.value = messageOf(e);
    }
  };
  const label = LABEL[props.action];
  return (
    <ConfirmDialog
      title={label.title}
      confirmLabel={label.confirm}
      dismissLabel="Leave it as it is"
      busy={busy.value}
      confirmDisabled={description.value === undefined}
      error={error.value ?? describeError.value}
      onConfirm={confirm}
      onDismiss={() => {
        if (!busy.peek()) props.onDismiss(props.action);
      }}
    >
      <p>
        Machine {props.name && <strong class="mono">{props.name}</strong>}{" "}
        <span class={props.name ? "mono muted" : "mono"}>{props.name ? `(${props.machineId})` : props.machineId}</span>.
        Drover will send, through its BMC:
      </p>
      {description.value !== undefined
        ? <p class="power-description">{description.value}</p>
        : describeError.value
        ? <p class="muted">Drover could not say what it would send, so it sends nothing.</p>
        : (
          <p class="muted" aria-live="polite">
            Asking the BMC what it would send…
          </p>
        )}
      <Consequence action={props.action} heldOff={props.heldOff} />
    </ConfirmDialog>
  );
}
