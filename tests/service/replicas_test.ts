/**
 * Three replicas as separate processes on one PostgreSQL, one etcd and a
 * standalone simulator with 50 reservations and 10% provider 5xx and lost
 * replies. While they work: one replica is SIGKILLed holding work,
 * PostgreSQL restarts once, etcd restarts once. Afterwards: exactly 50
 * devices, all 50 machines heartbeating, the killed replica's sessions gone
 * within their interval plus the janitor's grace (and its pass), and no
 * machine whose history shows a process Started twice without an end.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { etcdRequirement, startEtcd } from "../harness/etcd.ts";
import { postgresRequirement, startPostgres } from "../harness/postgres.ts";
import { startSimProcess } from "../harness/sim_process.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { waitFor } from "../harness/wait.ts";
import { spawnReplica } from "../harness/replica_process.ts";

const FLEET = 50;
const SESSION_INTERVAL_S = 5; // the runner's default session interval
const JANITOR_GRACE_S = 2;
const JANITOR_INTERVAL_S = 1;

if (serviceAvailable(postgresRequirement) && serviceAvailable(etcdRequirement)) {
  Deno.test({
    name:
      "three replicas, one killed mid-work, PostgreSQL and etcd restarted: 50 devices, 50 heartbeating, nothing twice",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await using pg = await startPostgres();
      await using etcd = await startEtcd();
      const dir = await Deno.makeTempDir({ prefix: "drover-replicas-" });
      await using simProcess = await startSimProcess([
        "--reservations",
        String(FLEET),
        "--error-rate",
        "0.1",
        "--lost-reply-rate",
        "0.1",
      ]);
      const sim = simProcess.settings;

      const env = {
        ...sim,
        DATABASE_URL: pg.url(),
        ETCD_ENDPOINTS: etcd.endpoint,
        DROVER_SIM_AGENTS: "true",
        DROVER_ADMIN_TOKEN: `admin-${crypto.randomUUID()}`,
        DROVER_MAX_DEVICES: String(FLEET),
        DROVER_DEVICE_CREATION_RATE: "10ms,50",
        DROVER_DB_RATE: "10ms,8",
        DROVER_PROVISIONER_INTERVAL: "500ms",
        DROVER_UPDATER_INTERVAL: "500ms",
        DROVER_INITIALIZER_PARALLELISM: "4",
        EQUINIX_API_RATE: "0ms",
        EQUINIX_REQUEST_TIMEOUT: "1s",
        DROVER_AGENT_HEARTBEAT_INTERVAL: "1s",
        DROVER_AGENT_START_TIMEOUT: "15s",
        DROVER_AGENT_HEARTBEAT_TIMEOUT: "5s",
        DROVER_JANITOR_GRACE: `${JANITOR_GRACE_S}s`,
        DROVER_JANITOR_INTERVAL: `${JANITOR_INTERVAL_S}s`,
        DROVER_LOG_LEVEL: "debug",
      };
      const replicas = [0, 1, 2].map((i) => spawnReplica(env, { dataDir: `${dir}/replica-${i}` }));
      const sql = postgres(pg.url(), { onnotice: () => {}, max: 2 });
      const count = async (text: string) => Number((await sql.unsafe(text))[0].n);
      try {
        // Mid-work: machines are being started; kill the replica that holds work right now.
        const victim = await waitFor(async () => {
          const rows = await sql`SELECT s.session_runtime_info FROM work w JOIN sessions s USING (session_id)
            WHERE s.session_deadline > now()`.catch(() => []);
          const holder = replicas.find((r) =>
            rows.some((row) => String(row.session_runtime_info).includes(`pid ${r.pid} `))
          );
          return holder ?? false;
        }, { timeoutMs: 60_000, intervalMs: 20, what: "a replica holding work" });
        const victimSessions = (await sql`SELECT session_id FROM sessions
          WHERE session_runtime_info LIKE ${`%pid ${victim.pid} %`}`).map((r) => r.session_id as string);
        victim.child.kill("SIGKILL");
        const killedAt = performance.now();
        await victim.child.status;

        await pg.restart({ downMs: 1000 });
        await etcd.restart();

        // The killed replica's sessions (and their work) are gone within their interval plus the janitor's grace.
        await waitFor(async () => {
          const [row] =
            await sql`SELECT count(*)::int AS n FROM sessions WHERE session_id = ANY(${victimSessions}::uuid[])`
              .catch(() => [{ n: -1 }]);
          return row.n === 0;
        }, { timeoutMs: 60_000, intervalMs: 100, what: "the killed replica's sessions reaped" });
        const releasedS = (performance.now() - killedAt) / 1000;
        const allowedS = SESSION_INTERVAL_S + JANITOR_GRACE_S + JANITOR_INTERVAL_S + 3; // + PostgreSQL's restart
        assert.ok(releasedS <= allowedS, `released ${releasedS.toFixed(1)} s after the kill (allowed ${allowedS} s)`);
        console.log(
          `the killed replica's ${victimSessions.length} sessions reaped ${releasedS.toFixed(1)} s after the kill`,
        );

        await waitFor(async () => {
          const n = await count(`SELECT count(*)::int AS n FROM machine_agent_heartbeat
            WHERE agent_heartbeat_at > now() - interval '5 seconds'`).catch(() => 0);
          return n === FLEET;
        }, { timeoutMs: 240_000, intervalMs: 500, what: `all ${FLEET} machines heartbeating` }).catch(async (error) => {
          const backoffs =
            await sql`SELECT process, cause, until - now() AS left FROM work_backoff WHERE until > now()`;
          const quiet = await sql`SELECT m.machine_id, mp.provider_status, a.agent_started_at, h.agent_heartbeat_at
            FROM machines m JOIN machine_provided mp USING (machine_id)
            LEFT JOIN machine_agent_started a USING (machine_id) LEFT JOIN machine_agent_heartbeat h USING (machine_id)
            WHERE h.agent_heartbeat_at IS NULL OR h.agent_heartbeat_at < now() - interval '5 seconds'`;
          const work = await sql`SELECT w.machine_id, w.process, w.started_at, s.session_runtime_info,
              s.session_deadline > now() AS live
            FROM work w JOIN sessions s USING (session_id)`;
          const logs = replicas.filter((r) => r !== victim).map((r) =>
            `replica pid ${r.pid}:\n` +
            r.log().split("\n").filter((line) => /WARN|ERROR/.test(line)).slice(-25).join("\n")
          );
          throw new Error(
            `${error.message}\nbackoffs: ${JSON.stringify(backoffs)}\nquiet: ${JSON.stringify(quiet)}\n` +
              `work: ${JSON.stringify(work)}\n${logs.join("\n")}`,
          );
        });
        console.log(`all ${FLEET} heartbeating ${((performance.now() - killedAt) / 1000).toFixed(1)} s after the kill`);

        const state = await (await fetch(`${new URL(sim.EQUINIX_API_URL).origin}/_sim/state`, {
          headers: { "X-Auth-Token": sim.EQUINIX_API_TOKEN },
        })).json() as { devices: { id: string }[]; reservations: { device?: { id: string } }[] };
        assert.equal(state.devices.length, FLEET, "exactly one device per reservation");
        assert.equal(new Set(state.reservations.map((r) => r.device?.id)).size, FLEET);
        assert.equal(await count("SELECT count(*)::int AS n FROM machine_provided"), FLEET, "one machine per device");

        const history = await sql`SELECT machine_id, process, event FROM work_history ORDER BY history_id`;
        const open = new Set<string>();
        for (const h of history) {
          const key = `${h.machine_id}|${h.process}`;
          if (h.event === "Started") {
            assert.ok(!open.has(key), `${key} Started twice without an end in between`);
            open.add(key);
          } else if (h.event !== "Retried") open.delete(key);
        }
      } finally {
        await sql.end();
        for (const r of replicas) {
          try {
            r.child.kill("SIGTERM");
          } catch {
            // already gone
          }
        }
        const stoppingAt = performance.now();
        const statuses = await Promise.all(replicas.map((r) => r.child.status));
        const stopSeconds = (performance.now() - stoppingAt) / 1000;
        await Deno.remove(dir, { recursive: true });
        // The survivors stop on SIGTERM within the service's own 10 s limit, exiting 0 (a replica that ran out of it
        // exits 1 and its log names what had not stopped).
        const survivors = replicas.filter((_, i) => statuses[i].signal !== "SIGKILL");
        console.log(`survivors stopped in ${stopSeconds.toFixed(1)} s`);
        for (const r of survivors) {
          // Which shutdown steps took time (logged at debug), for a slow stop.
          const steps = r.log().split("\n").filter((line) => / stopped step=/.test(line))
            .map((line) => line.replace(/^.* stopped step=/, ""));
          console.log(`replica pid ${r.pid} stop steps: ${steps.join("; ")}`);
        }
        for (const [i, r] of survivors.entries()) {
          const { code } = await r.child.status;
          assert.equal(
            code,
            0,
            `survivor ${i} exited ${code}; its log ends:\n${r.log().split("\n").slice(-30).join("\n")}`,
          );
        }
        assert.ok(stopSeconds < 12, `the survivors stopped ${stopSeconds.toFixed(1)} s after SIGTERM`);
      }
    },
  });
}
