import assert from "node:assert/strict";
import { BmcTimeoutError, BmcUnreachableError, RedfishError } from "./errors.ts";
import { backoffDelayMs, outcomeUnknown, retryReason } from "./retry_policy.ts";

const O = "https://bmc";
const http = (status: number) => new RedfishError(O, status, "POST", `${O}/x`, [], []);
const refused = new BmcUnreachableError(O, "refused", "ECONNREFUSED", false);
const lost = new BmcUnreachableError(O, "lost", "ECONNRESET", true);
const tls = new BmcUnreachableError(O, "tls", "DEPTH_ZERO_SELF_SIGNED_CERT", false);
const timeout = new BmcTimeoutError(O, "POST", "/x", 100, true);
const connectTimeout = new BmcTimeoutError(O, "POST", "/x", 100, false);

Deno.test("retryReason() retries an idempotent request after any transient failure", () => {
  assert.equal(retryReason("idempotent", http(500)), "5xx");
  assert.equal(retryReason("idempotent", http(502)), "5xx");
  assert.equal(retryReason("idempotent", http(503)), "503");
  assert.equal(retryReason("idempotent", http(429)), "429");
  assert.equal(retryReason("idempotent", refused), "unreachable");
  assert.equal(retryReason("idempotent", lost), "unreachable");
  assert.equal(retryReason("idempotent", timeout), "timeout");
  assert.equal(retryReason("idempotent", http(501)), undefined);
  assert.equal(retryReason("idempotent", http(404)), undefined);
  assert.equal(retryReason("idempotent", tls), undefined);
  assert.equal(retryReason("idempotent", new Error("bug")), undefined);
});

Deno.test("retryReason() retries a reset only where the BMC certainly did not act", () => {
  assert.equal(retryReason("once", refused), "unreachable");
  assert.equal(retryReason("once", connectTimeout), "timeout");
  assert.equal(retryReason("once", http(503)), "503");
  assert.equal(retryReason("once", http(429)), "429");
  assert.equal(retryReason("once", http(500)), undefined);
  assert.equal(retryReason("once", lost), undefined);
  assert.equal(retryReason("once", timeout), undefined);
});

Deno.test("outcomeUnknown() is true where a reset may have been acted on", () => {
  assert.equal(outcomeUnknown(timeout), true);
  assert.equal(outcomeUnknown(lost), true);
  assert.equal(outcomeUnknown(http(500)), true);
  assert.equal(outcomeUnknown(http(503)), false);
  assert.equal(outcomeUnknown(http(400)), false);
  assert.equal(outcomeUnknown(refused), false);
  assert.equal(outcomeUnknown(connectTimeout), false);
  assert.equal(outcomeUnknown(tls), false);
});

Deno.test("backoffDelayMs() doubles up to maxDelayMs, jittered into [half, whole]", () => {
  const delays = { initialDelayMs: 500, maxDelayMs: 10_000 };
  assert.deepEqual([1, 2, 3, 6, 10].map((n) => backoffDelayMs(n, delays, () => 1)), [500, 1000, 2000, 10_000, 10_000]);
  assert.deepEqual([1, 2, 3].map((n) => backoffDelayMs(n, delays, () => 0)), [250, 500, 1000]);
});
