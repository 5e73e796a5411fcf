/**
 * Times that tick with the store's clock: `Ago` ("5m 02s ago"), `Until`
 * ("in 12s"), `Since` (a bare duration, "running for"). Each shows the
 * absolute UTC time on hover and carries it in `<time datetime>`.
 *
 * @module
 */
import { formatAgo, formatDuration, formatTime, formatUntil } from "../format.ts";
import { useDashboard } from "../state.ts";

export function Ago(props: { iso: string | null | undefined }) {
  const { now } = useDashboard();
  if (!props.iso) return <span class="muted">—</span>;
  return <time dateTime={props.iso} title={formatTime(props.iso)}>{formatAgo(props.iso, now.value)}</time>;
}

export function Until(props: { iso: string | null | undefined }) {
  const { now } = useDashboard();
  if (!props.iso) return <span class="muted">—</span>;
  const passed = Date.parse(props.iso) <= now.value;
  return (
    <time dateTime={props.iso} title={formatTime(props.iso)} class={passed ? "muted" : undefined}>
      {formatUntil(props.iso, now.value)}
    </time>
  );
}

export function Since(props: { iso: string | null | undefined }) {
  const { now } = useDashboard();
  if (!props.iso) return <span class="muted">—</span>;
  return (
    <time dateTime={props.iso} title={`since ${formatTime(props.iso)}`}>
      {formatDuration(now.value - Date.parse(props.iso))}
    </time>
  );
}

/** An absolute time, no ticking. */
export function At(props: { iso: string | null | undefined }) {
  if (!props.iso) return <span class="muted">—</span>;
  return <time dateTime={props.iso}>{formatTime(props.iso)}</time>;
}
