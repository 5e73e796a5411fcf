/**
 * The guard drops exactly postgres.js's late write on a closed connection,
 * and lets every other uncaught error through.
 *
 * @module
 */
import assert from "node:assert/strict";
import { isPostgresLateWrite } from "../../bmdb/postgres_late_write.ts";

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
