/**
 * `deno task start` against a PostgreSQL that is not there yet: it waits
 * (its `/readyz` saying why) and starts once the database is back; it gives up
 * after DROVER_DATABASE_WAIT; and it fails at once, with a clear message, for
 * what waiting does not heal: a wrong password, a database that does not
 * exist, a server that takes no writes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { freePort } from "../harness/free_port.ts";
import { postgresRequirement, type PostgresServer, startPostgres } from "../harness/postgres.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { waitFor, within } from "../harness/wait.ts";
import { startTaskArgs } from "../harness/start_task.ts";

const REPO = new URL("../../", import.meta.url).pathname;
/** `deno task start`'s command, run directly, so signals reach Drover itself. */
const START_ARGS = startTaskArgs();

/** Settings every start here shares: a waiting limit far longer than any "at once" below. */
function env(databaseUrl: string, dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    DROVER_DATA_DIR: dir,
    DROVER_ADMIN_TOKEN: `admin-${crypto.randomUUID()}`,
    DROVER_DATABASE_WAIT: "5m",
    ...extra,
  };
}

/** Runs a start that must fail; returns its exit code, its log and how long it took. */
async function failingStart(environment: Record<string, string>) {
  const started = performance.now();
  const out = await within(
    new Deno.Command(Deno.execPath(), {
      args: START_ARGS,
      cwd: REPO,
      env: environment,
      stdout: "piped",
      stderr: "piped",
    })
      .output(),
    60_000,
    "the failing start's exit",
  );
  const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  return { code: out.code, log, seconds: (performance.now() - started) / 1000 };
}

async function readyz(port: number): Promise<{ status: number; body: { status: string; problem?: string } }> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: response.status, body: await response.json() };
}

async function withPostgres(fn: (pg: PostgresServer, dir: string) => Promise<void>) {
  await using pg = await startPostgres();
  const dir = await Deno.makeTempDir({ prefix: "drover-dbwait-" });
  try {
    await fn(pg, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (serviceAvailable(postgresRequirement)) {
  Deno.test({
    name: "start with PostgreSQL down: waits, /readyz says why, and starts when the database comes back",
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withPostgres(async (pg, dir) => {
        await pg.admin("CREATE DATABASE drover");
        await pg.halt();
        const port = freePort();
        const child = new Deno.Command(Deno.execPath(), {
          args: START_ARGS,
          cwd: REPO,
          env: env(pg.url("drover"), `${dir}/data`, { DROVER_LISTEN: `127.0.0.1:${port}` }),
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        let log = "";
        const collect = async (stream: ReadableStream<Uint8Array<ArrayBuffer>>) => {
          for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log += chunk;
        };
        const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
        try {
          // Waiting, and saying why: the host refuses connections.
          const waiting = await waitFor(async () => {
            const r = await readyz(port).catch(() => undefined);
            return r?.body.problem?.startsWith("waiting for the database") ? r : false;
          }, { timeoutMs: 30_000, intervalMs: 100, what: "/readyz saying the start waits for the database" });
          assert.equal(waiting.status, 503);
          assert.equal(waiting.body.status, "starting");
          assert.match(waiting.body.problem!, new RegExp(`127\\.0\\.0\\.1:${pg.port} .*(ECONNREFUSED|refused)`, "i"));
          // Alive meanwhile, and the API says it is starting rather than refusing the connection.
          assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
          const api = await fetch(`http://127.0.0.1:${port}/api/v1/machines`);
          assert.equal(api.status, 503);
          assert.match((await api.json()).error, /Drover is starting: waiting for the database/);

          await pg.resume();
          const resumedAt = performance.now();
          await waitFor(async () => (await readyz(port).catch(() => undefined))?.status === 200, {
            timeoutMs: 30_000,
            intervalMs: 100,
            what: "/readyz ready after the database came back",
          });
          console.log(`ready ${((performance.now() - resumedAt) / 1000).toFixed(1)} s after PostgreSQL came back`);
          assert.match(log, /the database takes no writes yet: waiting/);
          assert.match(log, /Drover is running/);
        } finally {
          child.kill("SIGTERM");
          const status = await within(child.status, 15_000, "exit after SIGTERM");
          await collected;
          assert.equal(status.code, 0, `exit ${status.code}; log:\n${log}`);
        }
      }),
  });

  Deno.test({
    name: "start with PostgreSQL down for longer than DROVER_DATABASE_WAIT: exits 1 saying what it waited for",
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withPostgres(async (pg, dir) => {
        await pg.halt();
        const result = await failingStart(env(pg.url(), `${dir}/data`, { DROVER_DATABASE_WAIT: "2s" }));
        assert.equal(result.code, 1, result.log);
        assert.match(result.log, /no writable host after 2 s/);
        assert.match(result.log, new RegExp(`127\\.0\\.0\\.1:${pg.port}`));
        assert.ok(result.seconds < 20, `took ${result.seconds.toFixed(1)} s`);
        await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound, "the data dir was not touched");
      }),
  });

  Deno.test({
    name: "start with a wrong password, a missing database or a read-only server: fails at once, naming it",
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () =>
      withPostgres(async (pg, dir) => {
        // Passwords checked for the role drover (the harness trusts everyone else).
        await pg.admin("CREATE ROLE drover LOGIN PASSWORD 'right-password'");
        await pg.admin("CREATE DATABASE drover OWNER drover");
        const hba = `${pg.dir}/data/pg_hba.conf`;
        await Deno.writeTextFile(hba, `host all drover 127.0.0.1/32 scram-sha-256\n${await Deno.readTextFile(hba)}`);
        await pg.admin("SELECT pg_reload_conf()");
        const at = `127.0.0.1:${pg.port}`;

        const wrong = await failingStart(env(`postgres://drover:wrong-password@${at}/drover`, `${dir}/a`));
        assert.equal(wrong.code, 1, wrong.log);
        assert.match(wrong.log, /refused: 127\.0\.0\.1:\d+ password authentication failed for user \\?"drover\\?"/);
        assert.doesNotMatch(wrong.log, /wrong-password/, "the password is never printed");
        assert.ok(wrong.seconds < 15, `a wrong password took ${wrong.seconds.toFixed(1)} s to fail (no waiting)`);

        const missing = await failingStart(env(`postgres://drover:right-password@${at}/nosuch`, `${dir}/b`));
        assert.equal(missing.code, 1, missing.log);
        assert.match(missing.log, /database \\?"nosuch\\?" does not exist/);
        assert.ok(missing.seconds < 15, `a missing database took ${missing.seconds.toFixed(1)} s to fail`);

        // A server that answers but takes no writes (what a standby says): waiting would not make it a primary.
        await pg.admin("ALTER SYSTEM SET default_transaction_read_only = on");
        await pg.admin("SELECT pg_reload_conf()");
        const readOnly = await failingStart(env(`postgres://drover:right-password@${at}/drover`, `${dir}/c`));
        assert.equal(readOnly.code, 1, readOnly.log);
        assert.match(readOnly.log, /no host takes writes, every one is a standby/);
        assert.ok(readOnly.seconds < 15, `a read-only server took ${readOnly.seconds.toFixed(1)} s to fail`);
        for (const sub of ["a", "b", "c"]) {
          await assert.rejects(Deno.stat(`${dir}/${sub}`), Deno.errors.NotFound, "the data dir was not touched");
        }
      }),
  });
}
