/**
 * RedfishClient over https, against a BMC simulator with a self-signed
 * certificate made by openssl (as a BMC's factory certificate is): the
 * default verification fails with a clear BmcUnreachableError, `{ ca }` and
 * `insecure` work, including a reset on its fresh connection.
 *
 * @module
 */
import assert from "node:assert/strict";
import { BmcUnreachableError, RedfishPool } from "../../redfish/mod.ts";
import { type BmcSimulator, startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { type Certificate, endpointOf, FAST, QUICK, rejection, selfSignedCertificate } from "./client_fixtures.ts";

/** One certificate for the file: openssl takes a moment. */
let certificate: Certificate | undefined;

async function httpsSimulator(): Promise<BmcSimulator> {
  certificate ??= await selfSignedCertificate();
  return await startBmcSimulator({ tls: certificate, systems: [{ transitionMs: 20 }] });
}

Deno.test("tls verify (the default): a self-signed certificate fails with a BmcUnreachableError saying what to do", async () => {
  await using sim = await httpsSimulator();
  await using pool = new RedfishPool(FAST);
  const error = await rejection(pool.client(endpointOf(sim)).readSystem(undefined), BmcUnreachableError);
  assert.equal(error.reason, "tls");
  assert.equal(error.maybeDelivered, false);
  assert.equal(
    error.message,
    `BMC ${sim.url}: TLS: self-signed certificate (set tls: insecure or give its CA)`,
  );
  // Not retried: the certificate would fail the same way.
  assert.equal(sim.stats().requests, 0);
});

Deno.test("tls { ca }: the BMC's own certificate as the CA is trusted, for reads and resets", async () => {
  await using sim = await httpsSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim, { ca: certificate?.cert ?? "" }));
  assert.equal((await bmc.readSystem(undefined)).powerState, "On");
  const result = await bmc.powerOff(undefined, QUICK);
  assert.deepEqual([result.sent, result.powerState], [["GracefulShutdown"], "Off"]);
});

Deno.test("tls insecure: no verification", async () => {
  await using sim = await httpsSimulator();
  await using pool = new RedfishPool(FAST);
  const bmc = pool.client(endpointOf(sim, "insecure"));
  assert.equal((await bmc.readSystem(undefined)).powerState, "On");
  assert.deepEqual((await bmc.restart(undefined, QUICK)).sent, ["GracefulRestart"]);
  await pool.close();
  assert.equal(sim.stats().sessionsOpen, 0);
});

Deno.test("tls { ca } with another certificate fails as an unknown issuer", async () => {
  await using sim = await httpsSimulator();
  const other = await selfSignedCertificate();
  await using pool = new RedfishPool(FAST);
  const error = await rejection(
    pool.client(endpointOf(sim, { ca: other.cert })).readSystem(undefined),
    BmcUnreachableError,
  );
  assert.equal(error.reason, "tls");
  assert.match(error.message, /^BMC https:\/\/127\.0\.0\.1:\d+: TLS: .*\(set tls: insecure or give its CA\)$/);
});
