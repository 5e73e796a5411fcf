/**
 * A bounded wait for a clean-up that needs the database (an UNLISTEN, the
 * doorbell's last NOTIFYs): with the server away it could hang, and a close
 * must not.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";

/** Waits for `promise` (its rejection ignored) for at most `ms`; resolves whether it settled in time. */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const giveUp = new AbortController();
  try {
    return await Promise.race([
      promise.then(() => true, () => true),
      sleep(ms, false, { signal: giveUp.signal }).catch(() => false),
    ]);
  } finally {
    giveUp.abort();
  }
}
