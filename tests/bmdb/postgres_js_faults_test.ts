/**
 * The guard drops exactly the bare connection losses of promises postgres.js
 * dropped, and lets every other uncaught error through.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseError } from "../../bmdb/mod.ts";
import { isConnectionLoss } from "../../bmdb/postgres_js_faults.ts";

Deno.test("a bare connection loss is recognised; the BMDB's own errors and anything else are not", () => {
  const socketError = (code: string) => Object.assign(new Error(`read ${code}`), { code, syscall: "read" });
  assert.equal(isConnectionLoss(socketError("ECONNRESET")), true);
  assert.equal(
    isConnectionLoss(Object.assign(new Error("write CONNECTION_CLOSED"), { code: "CONNECTION_CLOSED" })),
    true,
  );
  assert.equal(isConnectionLoss(new DatabaseError("read ECONNRESET", "ECONNRESET")), false, "the BMDB's errors crash");
  assert.equal(isConnectionLoss(socketError("EACCES")), false);
  assert.equal(isConnectionLoss(new TypeError("x is not a function")), false);
  assert.equal(isConnectionLoss({ code: "ECONNRESET" }), false);
  assert.equal(isConnectionLoss(undefined), false);
});
