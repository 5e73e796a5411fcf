/**
 * Waiting at start for a PostgreSQL that is not there yet (down, restarting,
 * a standby being promoted), without waiting for what never heals.
 *
 * Each round asks every host of the URL on its own whether it answers and
 * takes writes (`SHOW transaction_read_only`, what postgres.js's
 * `target_session_attrs=read-write` looks at). A writable host ends the wait.
 * A wrong password, an unknown user or a missing database fails at once, and
 * so does a list whose every host answers as a standby: waiting heals none of
 * them. Anything else (refused, timed out, starting up) is waited out, up to
 * `maxWaitMs`, with each round's reasons reported through `onWaiting`.
 *
 * @module
 */
import postgres from "postgres";
import { DatabaseRefusedError, DatabaseUnavailableError } from "./errors.ts";
import { parsePostgresUrl, type PostgresUrl } from "./postgres_url.ts";

/** What one host answered. */
export interface HostProbe {
  /** `host:port`. */
  host: string;
  state: "writable" | "standby" | "unreachable" | "refused";
  /** Why it is not writable (the server's or the network's words). */
  problem?: string;
}

/**
 * SQLSTATEs that name a configuration mistake: invalid_authorization_specification (an unknown user, pg_hba
 * refusing), invalid_password, invalid_catalog_name (no such database).
 */
const PERMANENT = new Set(["28000", "28P01", "3D000"]);

/** Asks one host, alone, whether it answers and takes writes. */
async function probeHost(url: PostgresUrl, index: number, timeoutSeconds: number): Promise<HostProbe> {
  const { host, port } = url.hosts[index];
  const name = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const sql = postgres(url.forHost(index), {
    max: 1,
    connect_timeout: timeoutSeconds,
    onnotice: () => {},
    connection: { application_name: "drover start probe" },
    // One attempt per round: the caller's loop is the retry.
    backoff: () => 0,
  });
  try {
    const [row] = await sql.unsafe("SHOW transaction_read_only");
    const readOnly = String(row.transaction_read_only) === "on";
    return readOnly
      ? { host: name, state: "standby", problem: "read-only (a standby)" }
      : { host: name, state: "writable" };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const problem = `${e?.message ?? String(error)}${e?.code && !e.message?.includes(e.code) ? ` (${e.code})` : ""}`;
    return { host: name, state: e?.code && PERMANENT.has(e.code) ? "refused" : "unreachable", problem };
  } finally {
    await sql.end({ timeout: 0 }).catch(() => {});
  }
}

/** One line for a round's answers, e.g. "db1:5432 unreachable (connect ECONNREFUSED …); db2:5432 read-only". */
function describeProbes(probes: HostProbe[]): string {
  return probes.map((p) => `${p.host} ${p.state === "writable" ? "writable" : p.problem}`).join("; ");
}

/** Options for {@linkcode waitForWritablePostgres}. */
export interface WaitOptions {
  /** Give up after this long (0: one round only). */
  maxWaitMs: number;
  /** Each round that found no writable host: why, and since when the wait runs. */
  onWaiting?: (reason: string, waitedMs: number) => void;
  signal?: AbortSignal;
}

/**
 * Resolves once a host of `urlText` takes writes.
 * @throws {DatabaseRefusedError} at once, for what waiting does not heal.
 * @throws {DatabaseUnavailableError} when `maxWaitMs` passed without a writable host.
 */
export async function waitForWritablePostgres(urlText: string, options: WaitOptions): Promise<void> {
  const url = parsePostgresUrl(urlText);
  const target = url.describe();
  const started = performance.now();
  for (let round = 0;; round++) {
    options.signal?.throwIfAborted();
    const probes = await Promise.all(url.hosts.map((_, i) => probeHost(url, i, 3)));
    if (probes.some((p) => p.state === "writable")) return;
    const refused = probes.filter((p) => p.state === "refused");
    if (refused.length > 0) throw new DatabaseRefusedError(target, describeProbes(refused));
    if (probes.every((p) => p.state === "standby")) {
      throw new DatabaseRefusedError(
        target,
        `no host takes writes, every one is a standby (${describeProbes(probes)}): list the primary too`,
      );
    }
    const waited = performance.now() - started;
    const reason = describeProbes(probes);
    if (waited >= options.maxWaitMs) {
      throw new DatabaseUnavailableError(target, `no writable host after ${Math.round(waited / 1000)} s: ${reason}`);
    }
    options.onWaiting?.(reason, waited);
    // 250 ms doubling to 5 s: quick to notice a restart, light on a database that is down for long.
    const pause = Math.min(250 * 2 ** round, 5000, options.maxWaitMs - waited);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, pause);
      options.signal?.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(options.signal!.reason);
      }, { once: true });
    });
  }
}
