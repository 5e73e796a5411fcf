/**
 * How times, durations, counts and byte sizes read on the dashboard.
 *
 * @module
 */

/** A duration, coarse to fine: "4s", "2m 05s", "3h 07m", "2d 4h". Negative durations read as 0s. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

/** Seconds as a duration ("1h 00m"). */
export function formatSeconds(seconds: number): string {
  return formatDuration(seconds * 1000);
}

/** How long ago `iso` was, from `nowMs`: "5m 02s ago"; "—" for none. */
export function formatAgo(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return iso;
  return `${formatDuration(nowMs - at)} ago`;
}

/** Time left until `iso`: "in 12s", or "now" once it has passed. */
export function formatUntil(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return "—";
  const at = Date.parse(iso);
  if (!Number.isFinite(at)) return iso;
  const left = at - nowMs;
  return left <= 0 ? "now" : `in ${formatDuration(left)}`;
}

/** An absolute time in UTC: "2026-11-23 18:04:05Z". */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return at.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

/** A count with thousands separators: "100,000". */
export function formatCount(n: number | undefined): string {
  return n === undefined ? "…" : n.toLocaleString("en-US");
}

/** Bytes in binary units: "512 GiB". */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value >= 10 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** The first 8 characters of an id, for dense columns (the full id goes in a title or link). */
export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/**
 * An OpenSSH public key ("ssh-ed25519 AAAA…") shortened to recognise it by:
 * its type and the last 16 characters of its base64 (the first ones only
 * repeat the type).
 */
export function shortHostKey(key: string): { type: string; tail: string } {
  const [type = "", body = ""] = key.trim().split(/\s+/);
  if (!body) return { type: "key", tail: type.length > 16 ? type.slice(-16) : type };
  return { type, tail: body.length > 16 ? body.slice(-16) : body };
}
