/**
 * How the postgres.js Drover links (vendor/postgres/PATCHED.md) picks hosts
 * from a list with `target_session_attrs=read-write`, against fake servers
 * (tests/harness/fake_postgres.ts) whose answers say which one answered.
 * Each case fails on the unpatched 3.4.9: it took a hot standby for a
 * writable server, hung for good when no host would do, kept a standby after
 * a backend died mid-query, kept a fenced primary, and gave up on a list at
 * its first silent host (and prefer-standby went round for good with no
 * standby to be had).
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { freePort } from "../harness/free_port.ts";
import { type FakePostgres, HOT_STANDBY, PRIMARY, startFakePostgres } from "../harness/fake_postgres.ts";
import { within } from "../harness/wait.ts";

/** A client of `servers` (ports), in that order, asking for a writable one (or `attrs`). */
function client(ports: number[], options: { connectTimeoutSeconds?: number; attrs?: string } = {}) {
  return postgres(
    {
      host: ports.map(() => "127.0.0.1"),
      port: ports,
      user: "drover",
      database: "drover",
      target_session_attrs: options.attrs ?? "read-write",
      max: 1,
      fetch_types: false,
      connect_timeout: options.connectTimeoutSeconds ?? 2,
      onnotice: () => {},
    } as unknown as Parameters<typeof postgres>[0],
  );
}

/** The code of the error `sql` fails a query with (every fake server answers with one), within 5 s. */
async function answerCode(sql: postgres.Sql): Promise<string> {
  try {
    await within(sql.unsafe("SELECT 1").simple().execute(), 5_000, "the query's answer");
  } catch (error) {
    return String((error as { code?: unknown }).code);
  }
  throw new Error("the fake server answered without an error");
}

const sanitize = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "postgres.js read-write: a hot standby listed first is passed over for the primary",
  ...sanitize,
  async fn() {
    await using standby = startFakePostgres({ parameters: HOT_STANDBY, answer: () => ({ code: "25006" }) });
    await using primary = startFakePostgres({ parameters: PRIMARY, answer: () => ({ code: "P0001" }) });
    const sql = client([standby.port, primary.port]);
    try {
      assert.equal(await answerCode(sql), "P0001", "the primary answered");
      assert.equal(standby.queries, 0, "nothing ran on the standby");
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});

Deno.test({
  name: "postgres.js: with every host refusing, a query fails after one round instead of hanging",
  ...sanitize,
  async fn() {
    const sql = client([freePort(), freePort()]);
    try {
      const started = performance.now();
      assert.equal(await answerCode(sql), "ECONNREFUSED");
      assert.ok(performance.now() - started < 2_000, "it failed at once");
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});

Deno.test({
  name: "postgres.js: with no writable host (primary gone, standby not promoted yet), a query fails and the pool " +
    "backs off instead of going round the list without a pause",
  ...sanitize,
  async fn() {
    await using standby = startFakePostgres({ parameters: HOT_STANDBY, answer: () => ({ code: "25006" }) });
    const sql = client([freePort(), standby.port]);
    try {
      const codes = [await answerCode(sql), await answerCode(sql), await answerCode(sql)];
      assert.ok(
        codes.every((c) => c === "TARGET_SESSION_ATTRS_UNMET" || c === "ECONNREFUSED"),
        `each failed as a connection attempt: ${codes}`,
      );
      assert.equal(standby.queries, 0, "nothing ran on the standby");
      assert.ok(standby.connections <= 3, `the standby saw ${standby.connections} connections for 3 queries`);
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});

Deno.test({
  name: "postgres.js: a backend that dies mid-query leaves nothing behind for the next connection: it checks " +
    "its server and fails with its own error",
  ...sanitize,
  async fn() {
    let dying: FakePostgres | undefined = undefined;
    dying = startFakePostgres({
      parameters: PRIMARY,
      answer: (n) => {
        if (n === 1) return { code: "P0001" }; // the connection is established and in use
        dying?.refuse(); // its postmaster is gone: no more connections
        return { code: "57P01", message: "terminating connection due to unexpected postmaster exit", die: true };
      },
    });
    await using primary = dying;
    await using standby = startFakePostgres({ parameters: HOT_STANDBY, answer: () => ({ code: "25006" }) });
    const sql = client([primary.port, standby.port]);
    try {
      assert.equal(await answerCode(sql), "P0001");
      const inFlight = await answerCode(sql);
      assert.ok(inFlight === "57P01" || inFlight === "CONNECTION_CLOSED", `the query in flight failed: ${inFlight}`);
      const next = [await answerCode(sql), await answerCode(sql)];
      assert.ok(
        next.every((c) => c === "TARGET_SESSION_ATTRS_UNMET" || c === "ECONNREFUSED"),
        `the next queries failed to connect, not with the old error or on the standby: ${next}`,
      );
      assert.equal(standby.queries, 0, "nothing ran on the standby");
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});

Deno.test({
  name: "postgres.js read-write: a primary that turns read-only under an open connection (fenced) is left for " +
    "the next writable host",
  ...sanitize,
  async fn() {
    await using fenced = startFakePostgres({
      parameters: { in_hot_standby: "off", default_transaction_read_only: "off" },
      // Its first answer reports the reload that fenced it; later connections see it at startup.
      answer: () => ({ code: "25006", parameters: { default_transaction_read_only: "on" } }),
    });
    await using promoted = startFakePostgres({ parameters: PRIMARY, answer: () => ({ code: "P0001" }) });
    const sql = client([fenced.port, promoted.port]);
    try {
      assert.equal(await answerCode(sql), "25006", "the fenced primary refused the write");
      assert.equal(await answerCode(sql), "P0001", "the next query went to the other primary");
      assert.equal(fenced.queries, 1, "the fenced primary got no second query");
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});

Deno.test({
  name: "postgres.js: a host that never answers is given up after connect_timeout for the next one",
  ...sanitize,
  async fn() {
    // Accepts connections and says nothing (a hung server, or a packet filter that lets the SYN through).
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })().catch(() => {});
    await using primary = startFakePostgres({ parameters: PRIMARY, answer: () => ({ code: "P0001" }) });
    const sql = client([(silent.addr as Deno.NetAddr).port, primary.port], { connectTimeoutSeconds: 1 });
    try {
      assert.equal(await answerCode(sql), "P0001", "the second host answered");
    } finally {
      await sql.end({ timeout: 1 });
      silent.close();
      await accepting;
      for (const conn of held) conn.close();
    }
  },
});

Deno.test({
  name: "postgres.js prefer-standby: with no standby to be had, the primary at the end of the list is taken",
  ...sanitize,
  async fn() {
    await using primary = startFakePostgres({ parameters: PRIMARY, answer: () => ({ code: "P0001" }) });
    const sql = client([freePort(), primary.port], { attrs: "prefer-standby" });
    try {
      assert.equal(await answerCode(sql), "P0001", "the primary answered");
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
});
