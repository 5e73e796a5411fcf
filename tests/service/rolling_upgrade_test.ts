/**
 * A rolling upgrade under churn (issue 29, point 4; the rule it relies on is
 * docs/upgrades.md). Three replicas, separate processes on one PostgreSQL and
 * a standalone simulator with 10% provider 5xx and 10% lost replies, while
 * the fleet is still being provisioned and its agents started (each start
 * held 1 s on its way to the simulator, as an SSH start takes), are replaced
 * one at a time by the next release (drained from the agents' load balancer,
 * SIGTERM, exit awaited, a new one started), then all three again; in each
 * round, whichever replica left holds work is replaced first, so its SIGTERM
 * lands on work in progress. The next release is a copy of this checkout with
 * one expand migration (a nullable column on machine_provided, which every
 * claim reads): the first new replica applies it while two old ones keep
 * running, and an old replica started after that is refused.
 *
 * Asserted: every replica exits 0 on SIGTERM and leaves no session and no
 * work; every work row released at a SIGTERM (Canceled) is claimed again
 * (Started) within the bound below, and none was left to expire; the old
 * replicas stay ready and go on claiming after the migration; nothing was
 * worked twice at once; one device per reservation; at the end every machine
 * heartbeats and no work row belongs to a dead session.
 *
 * The bound on a released machine's wait, from work_history: from the
 * Canceled row a stopping replica's session writes to the next Started row of
 * the same machine and process, at most one session interval (5 s, the
 * runner's: how long work of a replica that died without releasing it stays
 * held) plus the claim limiter (DROVER_DB_RATE's interval once for each of a
 * replica's claiming workers, the longest a claim queues for its token):
 * 5 + 5 × 0.25 = 6.25 s. An idle worker polls at least once per session
 * interval (the runner's idle backoff stops there), so the bound holds by
 * construction (docs/upgrades.md says so).
 *
 * @module
 */
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { loadMigrations, openBmdb } from "../../bmdb/mod.ts";
import { type Balancer, startBalancer } from "../harness/balancer.ts";
import { startDelayingProxy } from "../harness/delaying_proxy.ts";
import { freePort } from "../harness/free_port.ts";
import { postgresRequirement, startPostgres } from "../harness/postgres.ts";
import { copyRelease } from "../harness/release_copy.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { startSimProcess } from "../harness/sim_process.ts";
import { waitFor, within } from "../harness/wait.ts";
import { spawnWatched, type WatchedProcess } from "../harness/watched_process.ts";
import { startTaskArgs } from "../harness/start_task.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const FLEET = 30;
/** The runner's session interval (the service keeps the default). */
const SESSION_INTERVAL_S = 5;
/** DROVER_DB_RATE: its default, set explicitly so the bound below follows it. */
const DB_RATE = { intervalMs: 250, burst: 8 };
const INITIALIZER_PARALLELISM = 4;
const RECOVERER_PARALLELISM = 1;
/** A replica's workers that take a token from its DB query limiter before each claim. */
const CLAIMERS = INITIALIZER_PARALLELISM + RECOVERER_PARALLELISM;
/** The longest a machine released at a SIGTERM may wait for its next claim (see the module comment). */
const BOUND_S = SESSION_INTERVAL_S + CLAIMERS * DB_RATE.intervalMs / 1000;
/** How long an agent start takes: about an SSH start's second (the simulator's own answers in milliseconds). */
const AGENT_START_MS = 1000;
/** The new release's one migration: expand only (a nullable column the old release never reads). */
const EXPAND = {
  name: "machine_provided_note",
  sql: "ALTER TABLE machine_provided ADD COLUMN provider_note TEXT NULL;\n",
};

interface Replica {
  readonly name: string;
  readonly port: number;
  readonly process: WatchedProcess<true>;
  readonly pid: number;
}

/** A Drover from the checkout at `dir`; `ready` resolves once it prints that it runs. */
function spawnReplica(dir: string, name: string, env: Record<string, string>, dataDir: string): Replica {
  const port = freePort();
  const process = spawnWatched<true>({
    args: startTaskArgs(dir),
    cwd: dir,
    env: { ...Deno.env.toObject(), ...env, DROVER_DATA_DIR: `${dataDir}/${name}`, DROVER_LISTEN: `127.0.0.1:${port}` },
    readyWhen: (stdout) => stdout.includes("Drover is running") || undefined,
    what: `replica ${name}`,
  });
  return { name, port, process, pid: process.child.pid };
}

/** What one SIGTERM did. */
interface Termination {
  replica: string;
  /** Sessions of the replica when it was signalled. */
  sessions: Set<string>;
  /** Work it held when signalled. */
  held: number;
  stopSeconds: number;
  exitCode: number;
}

interface HistoryRow {
  history_id: string;
  machine_id: string;
  process: string;
  event: string;
  session_id: string | null;
  timestamp: Date;
}

/** (machine, process) pairs Started again before the previous Started ended: work done twice at once. */
function overlaps(history: readonly HistoryRow[]): string[] {
  const open = new Set<string>();
  const twice: string[] = [];
  for (const h of history) {
    const key = `${h.machine_id} ${h.process}`;
    if (h.event === "Started") {
      if (open.has(key)) twice.push(`${key} (history ${h.history_id})`);
      open.add(key);
    } else if (["Finished", "Failed", "Canceled", "Expired"].includes(h.event)) open.delete(key);
  }
  return twice;
}

/** Each Canceled row of `sessions` with the wait until the next Started of its machine and process (null: none). */
function releasesAndWaits(history: readonly HistoryRow[], sessions: Set<string>) {
  return history.filter((h) => h.event === "Canceled" && h.session_id !== null && sessions.has(h.session_id))
    .map((released) => {
      const next = history.find((h) =>
        Number(h.history_id) > Number(released.history_id) && h.event === "Started" &&
        h.machine_id === released.machine_id && h.process === released.process
      );
      const waitS = next ? (next.timestamp.getTime() - released.timestamp.getTime()) / 1000 : null;
      return { machineId: released.machine_id, process: released.process, waitS };
    });
}

if (serviceAvailable(postgresRequirement)) {
  Deno.test({
    name: "three replicas replaced one at a time, twice, while a migration lands: nothing lost, stranded or doubled",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await using pg = await startPostgres();
      await using sim = await startSimProcess([
        "--reservations",
        String(FLEET),
        "--error-rate",
        "0.1",
        "--lost-reply-rate",
        "0.1",
      ]);
      await using slowAgentStarts = startDelayingProxy(sim.settings.EQUINIX_API_URL, {
        delayMs: AGENT_START_MS,
        delays: (url, method) => method === "POST" && /^\/_sim\/devices\/[^/]+\/agent$/.test(url.pathname),
      });
      await using next = await copyRelease([EXPAND]);
      const [newMigration] = next.migrations;
      await using balancer: Balancer = startBalancer();
      const dataDir = await Deno.makeTempDir({ prefix: "drover-upgrade-" });
      const env = {
        ...sim.settings,
        EQUINIX_API_URL: slowAgentStarts.rewrite(sim.settings.EQUINIX_API_URL),
        DATABASE_URL: pg.url(),
        DROVER_SIM_AGENTS: "true",
        // The agents' one address, in front of whichever replicas run (a load balancer, as in production).
        DROVER_AGENT_URL: balancer.endpoint,
        DROVER_ADMIN_TOKEN: `admin-${crypto.randomUUID()}`,
        DROVER_MAX_DEVICES: String(FLEET),
        // Per replica: machines arrive all through the upgrade (not faster than the three create them together).
        DROVER_DEVICE_CREATION_RATE: "3s,1",
        DROVER_DB_RATE: `${DB_RATE.intervalMs}ms,${DB_RATE.burst}`,
        DROVER_PROVISIONER_INTERVAL: "1s",
        DROVER_UPDATER_INTERVAL: "1s",
        DROVER_INITIALIZER_PARALLELISM: String(INITIALIZER_PARALLELISM),
        DROVER_RECOVERER_PARALLELISM: String(RECOVERER_PARALLELISM),
        EQUINIX_API_RATE: "0ms",
        EQUINIX_REQUEST_TIMEOUT: "1s",
        DROVER_AGENT_HEARTBEAT_INTERVAL: "1s",
        DROVER_AGENT_START_TIMEOUT: "20s",
        DROVER_AGENT_HEARTBEAT_TIMEOUT: "10s",
        DROVER_LOG_LEVEL: "debug",
      };
      const sql = postgres(pg.url(), { onnotice: () => {}, max: 2 });
      const everyReplica: Replica[] = [];
      const startSeconds: number[] = [];
      const start = async (dir: string, name: string) => {
        const replica = spawnReplica(dir, name, env, dataDir);
        everyReplica.push(replica);
        const startedAt = performance.now();
        await within(replica.process.ready, 120_000, `replica ${name} running`);
        startSeconds.push((performance.now() - startedAt) / 1000);
        balancer.add(replica.port);
        return replica;
      };
      /** Sessions of `replica` (the runner's, provisioner's and updater's runtime info names its pid). */
      const sessionsOf = async (replica: Replica) =>
        (await sql`SELECT session_id FROM sessions WHERE (session_runtime_info || ' ') LIKE ${`% pid ${replica.pid} %`}`)
          .map((r) => r.session_id as string);
      const workOf = async (sessions: string[]) =>
        (await sql`SELECT machine_id, process FROM work WHERE session_id = ANY(${sessions}::uuid[])`).length;

      const terminations: Termination[] = [];
      let migratedAt: Date | undefined;
      try {
        const replicas = await Promise.all([0, 1, 2].map((i) => start(REPO, `old-${i}`)));
        const upgradeStartedAt = performance.now();
        for (const round of [1, 2]) {
          // Each replica once per round, one at a time: whichever of those left holds work first (mid-work where
          // there is work, so the SIGTERM lands on work in progress: a machine is held for the second or so an
          // agent start takes), else the first of them.
          const left = [0, 1, 2];
          while (left.length > 0) {
            const sessions = new Map(
              await Promise.all(left.map(async (i) => [i, await sessionsOf(replicas[i])] as const)),
            );
            const holding = await waitFor(async () => {
              const rows = await sql`SELECT session_id FROM work WHERE session_id = ANY(${
                [...sessions.values()].flat()
              }::uuid[])`;
              const holder = left.find((i) => rows.some((r) => sessions.get(i)!.includes(r.session_id)));
              return holder === undefined
                ? false
                : { slot: holder, held: rows.filter((r) => sessions.get(holder)!.includes(r.session_id)).length };
            }, { timeoutMs: 20_000, intervalMs: 10, what: "a replica holding work" }).catch(() => ({
              slot: left[0],
              held: 0,
            }));
            const slot = holding.slot;
            left.splice(left.indexOf(slot), 1);
            const victim = replicas[slot];
            balancer.remove(victim.port); // drained: agents' new connections go to the others
            const signalledAt = performance.now();
            const status = await victim.process.stop();
            const stopSeconds = (performance.now() - signalledAt) / 1000;
            terminations.push({
              replica: victim.name,
              sessions: new Set(sessions.get(slot)),
              held: holding.held,
              stopSeconds,
              exitCode: status.code,
            });
            assert.equal(
              status.code,
              0,
              `${victim.name} exited ${status.code} on SIGTERM; its log ends:\n${victim.process.log().slice(-3000)}`,
            );
            // Nothing stranded: its sessions closed, and with them every work row released.
            assert.deepEqual(await sessionsOf(victim), [], `${victim.name} left sessions behind`);
            assert.equal(await workOf(sessions.get(slot)!), 0, `${victim.name} left work held`);

            replicas[slot] = await start(next.dir, `new-${round}-${slot}`);
            if (!migratedAt) {
              // The first new replica migrated; the two old ones keep running on the expanded schema, still ready.
              const applied = await sql`SELECT applied_at FROM schema_migrations WHERE name = ${newMigration}`;
              assert.equal(applied.length, 1, `${newMigration} was not applied by the first new replica`);
              migratedAt = applied[0].applied_at;
              for (const old of replicas.filter((r) => r.name.startsWith("old-"))) {
                const response = await fetch(`http://127.0.0.1:${old.port}/readyz`);
                assert.equal(
                  response.status,
                  200,
                  `${old.name} not ready after the migration: ${await response.text()}`,
                );
              }
              // An old replica started now (a restart by systemd, say) is refused, naming what it lacks.
              const late = spawnReplica(REPO, "old-late", env, dataDir);
              const { code } = await within(late.process.child.status, 120_000, "the late old replica's exit");
              await late.process.stop();
              const log = late.process.log();
              assert.equal(code, 1, `an old replica started after the migration exited ${code}; its log:\n${log}`);
              assert.match(log, /ERROR Drover could not start error=.*migrated by a newer Drover/);
              assert.ok(log.includes(newMigration), `the refusal does not name ${newMigration}:\n${log}`);
              console.log(`an old replica started after the migration: exit ${code}, ${log.trim().split("\n").at(-1)}`);
              // The old replicas go on working on the expanded schema: awaited, not hoped for (machines keep
              // arriving, and the new replica may take the next few).
              const oldSessions = (await Promise.all(replicas.filter((r) => r.name.startsWith("old-")).map(sessionsOf)))
                .flat();
              await waitFor(async () => {
                const [row] = await sql`SELECT count(*)::int AS n FROM work_history
                  WHERE event = 'Started' AND session_id = ANY(${oldSessions}::uuid[]) AND timestamp > ${migratedAt!}`;
                return row.n > 0;
              }, { timeoutMs: 60_000, intervalMs: 100, what: "an old replica claiming a machine after the migration" });
            }
          }
        }
        console.log(
          `six replacements in ${((performance.now() - upgradeStartedAt) / 1000).toFixed(1)} s; replicas started in ` +
            startSeconds.map((seconds) => `${seconds.toFixed(1)} s`).join(", "),
        );

        await waitFor(async () => {
          const [row] = await sql`SELECT count(*)::int AS n FROM machine_agent_heartbeat
            WHERE agent_heartbeat_at > now() - interval '5 seconds'`;
          return row.n === FLEET;
        }, { timeoutMs: 240_000, intervalMs: 500, what: `all ${FLEET} machines heartbeating` });
        assert.ok(
          slowAgentStarts.delayed >= FLEET,
          `only ${slowAgentStarts.delayed} agent starts went through the proxy`,
        );
        console.log(
          `all ${FLEET} heartbeating ${
            ((performance.now() - upgradeStartedAt) / 1000).toFixed(1)
          } s after the first SIGTERM`,
        );
        // The churn the upgrade ran through.
        const events = await sql`SELECT process, event, count(*)::int AS n FROM work_history
          WHERE process IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`;
        console.log(`work_history: ${events.map((e) => `${e.process} ${e.event} ${e.n}`).join(", ")}`);
        const causes = await sql`SELECT left(failed_cause, 160) AS cause, count(*)::int AS n FROM work_history
          WHERE event = 'Failed' GROUP BY 1 ORDER BY 2 DESC LIMIT 5`;
        for (const c of causes) console.log(`  failed ${c.n}×: ${c.cause}`);
        const [arrivals] = await sql`SELECT EXTRACT(EPOCH FROM min(machine_created_at))::float8 AS first,
          EXTRACT(EPOCH FROM max(machine_created_at))::float8 AS last, EXTRACT(EPOCH FROM now())::float8 AS now FROM machines`;
        const [starts] =
          await sql`SELECT percentile_cont(ARRAY[0.5, 1]) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM f.timestamp - s.timestamp)) AS p
          FROM work_history s JOIN LATERAL (SELECT timestamp FROM work_history f WHERE f.machine_id = s.machine_id
            AND f.process = s.process AND f.history_id > s.history_id ORDER BY f.history_id LIMIT 1) f ON true
          WHERE s.event = 'Started' AND s.process = 'ShepherdAgentStart'`;
        console.log(
          `machines created over ${(arrivals.last - arrivals.first).toFixed(0)} s, the last ${
            (arrivals.now - arrivals.last).toFixed(0)
          } s ago; agent start held median/max ${starts.p.map((x: number) => x.toFixed(2)).join("/")} s`,
        );

        const stranded = await sql`SELECT w.machine_id, w.process FROM work w JOIN sessions s USING (session_id)
          WHERE s.session_deadline <= now()`;
        assert.deepEqual([...stranded], [], "work rows of dead sessions remain");

        const history = await sql<HistoryRow[]>`SELECT history_id, machine_id, process, event, session_id, timestamp
          FROM work_history WHERE process IS NOT NULL ORDER BY history_id`;
        assert.deepEqual(overlaps(history), [], "worked twice at once");

        // The old release went on claiming on the expanded schema until it was replaced.
        const oldSessions = new Set(
          terminations.filter((t) => t.replica.startsWith("old-")).flatMap((t) => [...t.sessions]),
        );
        const oldClaimsAfter = history.filter((h) =>
          h.event === "Started" && oldSessions.has(h.session_id ?? "") && h.timestamp > migratedAt!
        ).length;
        console.log(`the old replicas claimed ${oldClaimsAfter} machines after the migration`);
        assert.ok(oldClaimsAfter > 0, "the old replicas claimed nothing after the migration");

        const waits: number[] = [];
        for (const t of terminations) {
          const releases = releasesAndWaits(history, t.sessions);
          const expired = history.filter((h) =>
            h.event === "Expired" && t.sessions.has(h.session_id ?? "")
          );
          assert.deepEqual(expired, [], `${t.replica}'s work was left to expire instead of released`);
          for (const r of releases) {
            assert.ok(
              r.waitS !== null,
              `${r.machineId} ${r.process}, released by ${t.replica}, was never claimed again`,
            );
            waits.push(r.waitS);
          }
          console.log(
            `${t.replica}: held ${t.held}, released ${releases.length} (next claim after ` +
              `${releases.map((r) => `${r.waitS!.toFixed(2)} s`).join(", ") || "-"}), exited 0 in ${
                t.stopSeconds.toFixed(1)
              } s`,
          );
        }
        const worst = Math.max(...waits);
        console.log(
          `${waits.length} machines released at a SIGTERM; worst wait ${worst.toFixed(2)} s (bound ${BOUND_S} s)`,
        );
        // Otherwise the wait was hardly measured: the fleet came up too fast for the replacements.
        const releasing = terminations.filter((t) => releasesAndWaits(history, t.sessions).length > 0).length;
        assert.ok(releasing >= 3, `only ${releasing} of 6 SIGTERMs released work`);
        assert.ok(
          worst <= BOUND_S,
          `a machine released at a SIGTERM waited ${worst.toFixed(2)} s (bound ${BOUND_S} s)`,
        );

        const state = await (await fetch(`${new URL(sim.settings.EQUINIX_API_URL).origin}/_sim/state`, {
          headers: { "X-Auth-Token": sim.settings.EQUINIX_API_TOKEN },
        })).json() as { devices: unknown[] };
        assert.equal(state.devices.length, FLEET, "exactly one device per reservation");

        // The last three, new, stop as cleanly.
        for (const replica of replicas) {
          balancer.remove(replica.port);
          const { code } = await replica.process.stop();
          assert.equal(code, 0, `${replica.name} exited ${code}; its log ends:\n${replica.process.log().slice(-3000)}`);
        }
      } finally {
        await sql.end();
        await Promise.all(everyReplica.map((r) => r.process.stop()));
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      }
    },
  });
}

Deno.test("deno task start on an embedded database a newer Drover migrated exits 1, naming what it lacks", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "drover-newer-" });
  try {
    // A database this build migrated, then a newer release's migration recorded on top.
    await (await openBmdb({ component: "test", dataDir: `${dataDir}/pglite` })).close();
    const raw = await PGlite.create(`${dataDir}/pglite`);
    try {
      await raw.query(`INSERT INTO schema_migrations (version, name, checksum) VALUES ('9999', '9999_newer', 'abc')`);
    } finally {
      await raw.close();
    }
    const before = await recordedMigrations(dataDir);

    const drover = spawnWatched<true>({
      args: startTaskArgs(REPO),
      cwd: REPO,
      env: {
        ...Deno.env.toObject(),
        DROVER_DATA_DIR: dataDir,
        DROVER_DEMO: "false",
        DROVER_LISTEN: `127.0.0.1:${freePort()}`,
      },
      readyWhen: (stdout) => stdout.includes("Drover is running") || undefined,
      what: "Drover on a newer database",
    });
    const { code } = await within(drover.child.status, 120_000, "Drover's exit");
    await drover.stop();
    const log = drover.log();
    assert.equal(code, 1, `exit ${code}; its log:\n${log}`);
    const [line] = log.split("\n").filter((l) => l.includes("Drover could not start"));
    assert.ok(line, `no "Drover could not start" line in:\n${log}`);
    for (
      const part of [
        "migrated by a newer Drover",
        "9999_newer",
        `its newest is ${(await loadMigrations()).at(-1)!.name}`,
        "docs/upgrades.md",
      ]
    ) {
      assert.ok(line.includes(part), `the refusal lacks "${part}": ${line}`);
    }
    console.log(line);
    assert.deepEqual(await recordedMigrations(dataDir), before, "the refused start changed schema_migrations");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** schema_migrations of the PGlite database under `dataDir`. */
async function recordedMigrations(dataDir: string) {
  const raw = await PGlite.create(`${dataDir}/pglite`);
  try {
    return (await raw.query(`SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version`)).rows;
  } finally {
    await raw.close();
  }
}
