/**
 * What a test needs from the machine, and what happens when it is missing.
 *
 * A test that needs a service (PostgreSQL, etcd, ...) asks {@linkcode serviceAvailable}
 * before it registers. When the service's binaries are missing, the test is
 * skipped with a message that names what to install, except under
 * `DROVER_REQUIRE_SERVICES=1` (CI), where the missing service is an error so
 * that nothing is silently left untested.
 *
 * @module
 */

/** A service the tests can start, and how to get it on Debian. */
export interface ServiceRequirement {
  /** Human name, e.g. "PostgreSQL 15". */
  name: string;
  /** What to install, e.g. "apt-get install -y postgresql-15". */
  install: string;
  /** Returns the reason it is unavailable, or undefined when it can be started. */
  probe(): string | undefined;
}

const reported = new Set<string>();

/** True when `DROVER_REQUIRE_SERVICES=1`: a missing service fails instead of skipping. */
export function servicesRequired(): boolean {
  return Deno.env.get("DROVER_REQUIRE_SERVICES") === "1";
}

/**
 * Whether the service can be started here. Prints the skip reason once per
 * service; throws under `DROVER_REQUIRE_SERVICES=1`.
 */
export function serviceAvailable(req: ServiceRequirement): boolean {
  const missing = req.probe();
  if (missing === undefined) return true;
  const message = `${req.name} is not available (${missing}); install it with: ${req.install}`;
  if (servicesRequired()) {
    throw new Error(`${message}. DROVER_REQUIRE_SERVICES=1 is set, so this is an error, not a skip.`);
  }
  if (!reported.has(req.name)) {
    reported.add(req.name);
    console.warn(`SKIP tests needing ${message}`);
  }
  return false;
}

/** Whether `path` exists and is a file. */
export function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
