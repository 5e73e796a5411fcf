/**
 * `StatusBadge`: a short status word with a colour that means something
 * (green running or healthy, amber in progress, red failed or missing), and the word
 * itself, so colour is never the only cue.
 *
 * @module
 */
const TONES: Record<string, string> = {
  Running: "ok",
  Provisioning: "warn",
  Stopped: "warn",
  Missing: "bad",
  ProvisioningFailedPermanent: "bad",
  Unknown: "neutral",
  // A BMC's PowerState and Health.
  On: "ok",
  Off: "neutral",
  PoweringOn: "warn",
  PoweringOff: "warn",
  OK: "ok",
  Warning: "warn",
  Critical: "bad",
};

export function StatusBadge(props: { status: string | null | undefined; tone?: "ok" | "warn" | "bad" | "neutral" }) {
  if (!props.status) return <span class="muted">—</span>;
  const tone = props.tone ?? TONES[props.status] ?? "neutral";
  return <span class={`badge badge-${tone}`}>{props.status}</span>;
}
