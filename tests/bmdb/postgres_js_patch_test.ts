/**
 * The fix Drover carries for postgres.js (vendor/postgres/PATCHED.md): a
 * connection that closes while a write is pending still sends its next
 * connection's startup message, so the next query goes through at once
 * instead of hanging until `connect_timeout`. Unpatched 3.4.9 fails this.
 *
 * @module
 */
import assert from "node:assert/strict";
import net from "node:net";
import postgres from "postgres";
import { postgresRequirement, sharedPostgres } from "../harness/postgres.ts";
import { serviceAvailable } from "../harness/requirements.ts";

if (serviceAvailable(postgresRequirement)) {
  Deno.test("postgres.js: after a connection closes with a write pending, the next query goes through", async () => {
    const url = new URL((await sharedPostgres()).url());
    let socket: net.Socket | undefined;
    const options = {
      max: 1,
      connect_timeout: 5,
      onnotice: () => {},
      // The connection's socket, so the test can close it at a chosen moment
      // (an option its connection.js takes and its types do not list).
      socket: () => (socket = net.connect(Number(url.port), url.hostname)),
    };
    const sql = postgres(url.toString(), options as Parameters<typeof postgres>[1]);
    try {
      assert.deepEqual([...await sql`SELECT 1 AS n`], [{ n: 1 }]);
      for (let round = 1; round <= 3; round++) {
        // A small query's bytes wait for a setImmediate; the socket closes
        // first (its close event delivered at once, as it happens under load).
        const pending = sql`SELECT 2 AS n`.execute();
        for (let i = 0; i < 10; i++) await null; // postgres.js hands the query to the connection a few microtasks on
        socket!.destroy();
        socket!.emit("close", false);
        await assert.rejects(pending, /CONNECTION_CLOSED|CONNECTION_DESTROYED|ECONNRESET/);

        const started = performance.now();
        assert.deepEqual([...await sql`SELECT 3 AS n`], [{ n: 3 }]);
        const tookMs = performance.now() - started;
        assert.ok(tookMs < 2_000, `round ${round}: the next query took ${tookMs.toFixed(0)} ms (connect_timeout 5 s)`);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
}
