/**
 * The HTTP `Retry-After` header (RFC 9110 §10.2.3): delay-seconds or an
 * HTTP-date. BMCs send it with 503 (busy, or restarting their web server)
 * and 429.
 *
 * @module
 */

/**
 * How long `Retry-After: value` asks the client to wait, in milliseconds
 * (0 for a date in the past), or undefined when the header is absent or
 * unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Date.parse reads IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the form RFC 9110 requires senders to use.
  const at = /[a-z]/i.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
