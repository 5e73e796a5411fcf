/**
 * The guard drops exactly postgres.js's late write on a closed connection
 * and the bare connection losses of promises it dropped, and lets every other
 * uncaught error through.
 *
 * @module
 */
import assert from "node:assert/strict";
import { DatabaseError } from "../../bmdb/mod.ts";
import { isConnectionLoss, isPostgresLateWrite } from "../../bmdb/postgres_js_faults.ts";

function typeError(message: string, stack: string): TypeError {
  const error = new TypeError(message);
  error.stack = `TypeError: ${message}\n${stack}`;
  return error;
}

Deno.test("the postgres.js late write is recognised, nothing else is", () => {
  const frame =
    "    at Immediate.nextWrite (file:///x/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js:255:22)";
  const message = "Cannot read properties of null (reading 'write')";
  assert.equal(isPostgresLateWrite(typeError(message, frame)), true);
  assert.equal(isPostgresLateWrite(typeError(message, "    at ours (file:///x/server/app.ts:1:1)")), false);
  assert.equal(isPostgresLateWrite(typeError("Cannot read properties of null (reading 'end')", frame)), false);
  assert.equal(isPostgresLateWrite(new Error(message)), false);
  assert.equal(isPostgresLateWrite(undefined), false);
});

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
