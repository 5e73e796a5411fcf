/**
 * What the Redfish client's tests share: fast pool and power options (tests
 * wait milliseconds, not a BMC's minutes), an endpoint for a simulator, a
 * metric reader, and a self-signed certificate made by openssl.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Registry } from "prom-client";
import type { BmcEndpoint, PowerOptions, RedfishPoolOptions, TlsMode } from "../../redfish/mod.ts";
import type { BmcSimulator } from "../../redfish/simulator/mod.ts";

/** Pool options for tests: short backoff, a timeout that still tolerates a loaded machine. */
export const FAST: RedfishPoolOptions = {
  requestTimeoutMs: 5_000,
  retry: { attempts: 4, initialDelayMs: 5, maxDelayMs: 20 },
  idleSocketMs: 1_000,
};

/** Power options for tests: poll often, give up soon. */
export const QUICK: PowerOptions = { pollIntervalMs: 5, gracefulTimeoutMs: 300, settleTimeoutMs: 5_000 };

/** The endpoint of a simulated BMC. */
export function endpointOf(sim: BmcSimulator, tls?: TlsMode): BmcEndpoint {
  return { url: sim.url, username: sim.username, password: sim.password, tls };
}

/** The sum of a metric's values with these labels (0 when never set). */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

/** A self-signed certificate for 127.0.0.1 (an IP SAN, as a BMC's), and its key, as PEM. */
export interface Certificate {
  cert: string;
  key: string;
}

/** Makes a self-signed certificate with `/usr/bin/openssl`, the way a BMC's factory certificate looks. */
export async function selfSignedCertificate(): Promise<Certificate> {
  const dir = await Deno.makeTempDir({ prefix: "redfish-client-tls-" });
  try {
    const { success, stderr } = await new Deno.Command("/usr/bin/openssl", {
      args: [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"],
        ...["-keyout", `${dir}/key.pem`, "-out", `${dir}/cert.pem`, "-subj", "/CN=bmc.example"],
        ...["-addext", "subjectAltName=IP:127.0.0.1"],
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    return { cert: await Deno.readTextFile(`${dir}/cert.pem`), key: await Deno.readTextFile(`${dir}/key.pem`) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The error `promise` rejects with; fails when it resolves, or rejects with something not of `type`. */
export async function rejection<E extends Error>(
  promise: Promise<unknown>,
  // deno-lint-ignore no-explicit-any -- error classes take any constructor arguments
  type: new (...args: any[]) => E,
): Promise<E> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${error instanceof Error ? error.stack : error}`);
    return error;
  }
  assert.fail(`expected a ${type.name}, but it resolved`);
}

/** The error `fn` throws; fails when it returns, or throws something not of `type`. */
export function thrown<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any -- error classes take any constructor arguments
  type: new (...args: any[]) => E,
): E {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof type, `expected a ${type.name}, got ${error instanceof Error ? error.stack : error}`);
    return error;
  }
  assert.fail(`expected a ${type.name}, but it returned`);
}
