/**
 * Backup and restore of the BMDB, as docs/operating.md tells an operator to
 * do it: `pg_dump -Fc` of a running Drover's database, `pg_restore` into a
 * fresh database, a new Drover on it.
 *
 * A Drover (in-process, on PostgreSQL) brings up a fleet from a standalone
 * Metal API simulator whose processes run the agents (DROVER_SIM_AGENTS).
 * The dump is taken mid-way: some devices are not created yet, an agent
 * heartbeats, and a session holds work on a machine (work in flight). The
 * fleet then finishes coming up; Drover stops; the dump is restored into a
 * new database and a new Drover starts on it, on the same address (where
 * the agents send their heartbeats). Through the admin API:
 *
 * - the machines of the backup are there with their ids, provider ids and
 *   history; the devices created after the backup are adopted (same provider
 *   ids), none created twice (the simulator still holds one per reservation);
 * - the loops go on: every machine heartbeats to the new Drover;
 * - the sessions the backup brought back are reaped by the janitor within
 *   their interval plus its grace and interval, and the work in flight is
 *   released as Expired.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { openBmdb, Process } from "../../bmdb/mod.ts";
import { readConfig } from "../../server/config.ts";
import { type Service, startService } from "../../server/service.ts";
import type { MachineSummary, TimelineEntry } from "../../ui/wire.ts";
import { freePort } from "../harness/free_port.ts";
import { postgresBinDir, postgresRequirement, sharedPostgres } from "../harness/postgres.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { startSimProcess } from "../harness/sim_process.ts";
import { waitFor } from "../harness/wait.ts";

const RESERVATIONS = 4;
const SESSION_INTERVAL_S = 5; // the loops' and the held work's sessions
const JANITOR_GRACE_S = 1;
const JANITOR_INTERVAL_S = 0.5;

async function run(command: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    throw new Error(`${command} ${args.join(" ")} failed (exit ${out.code}):\n${text}`);
  }
}

/** The admin API of one Drover. */
function adminApi(service: Service, token: string) {
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${service.url}/api/v1/${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
    return await response.json() as T;
  };
  return {
    machines: async () => (await get<{ rows: MachineSummary[] }>("machines?limit=500")).rows,
    timeline: async (machineId: string) =>
      (await get<{ timeline: TimelineEntry[] }>(`machines/${machineId}`)).timeline.filter((e) => e.kind === "work"),
  };
}

const historyKey = (e: TimelineEntry) => `${e.at} ${e.process} ${e.event}`;

if (serviceAvailable(postgresRequirement)) {
  Deno.test({
    name: "a pg_dump restored into a new database starts a Drover that sees the same fleet and goes on",
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const bin = postgresBinDir()!;
      const server = await sharedPostgres();
      const suffix = crypto.randomUUID().replaceAll("-", "");
      const [original, restored] = [`backup_${suffix}`, `restored_${suffix}`];
      const admin = postgres(server.url(), { onnotice: () => {}, max: 1 });
      await admin.unsafe(`CREATE DATABASE ${original}`);
      const dir = await Deno.makeTempDir({ prefix: "drover-backup-" });
      const dump = `${dir}/drover.dump`;
      await using sim = await startSimProcess(["--reservations", String(RESERVATIONS)]);
      const adminToken = `admin-${crypto.randomUUID()}`;
      // One address for both Drovers: the agents keep sending their heartbeats there.
      const listen = `127.0.0.1:${freePort()}`;
      const start = (database: string) => {
        const config = readConfig({
          ...sim.settings,
          DATABASE_URL: server.url(database),
          DROVER_ADMIN_TOKEN: adminToken,
          DROVER_DATA_DIR: `${dir}/data`,
          DROVER_LISTEN: listen,
          DROVER_SIM_AGENTS: "true",
          DROVER_MAX_DEVICES: String(RESERVATIONS),
          // One device every 4 s: the backup is taken while the fleet is still coming up.
          DROVER_DEVICE_CREATION_RATE: "4s,1",
          DROVER_DB_RATE: "20ms,8",
          DROVER_PROVISIONER_INTERVAL: "500ms",
          DROVER_UPDATER_INTERVAL: "500ms",
          EQUINIX_API_RATE: "0ms",
          DROVER_AGENT_HEARTBEAT_INTERVAL: "1s",
          DROVER_JANITOR_GRACE: `${JANITOR_GRACE_S}s`,
          DROVER_JANITOR_INTERVAL: `${JANITOR_INTERVAL_S * 1000}ms`,
        }, []);
        assert.ok(config !== "help");
        return startService(config, { logger: quietLogger });
      };
      const services: Service[] = [];
      const sql = postgres(server.url(restored), { onnotice: () => {}, max: 1 });
      try {
        // 1. The backup, mid-way: a machine heartbeating, a device not created yet, work in flight.
        const first = await start(original);
        services.push(first);
        const api1 = adminApi(first, adminToken);
        const before = await waitFor(async () => {
          const rows = await api1.machines();
          return rows.length >= 2 && rows.length < RESERVATIONS && rows.some((m) => m.agentHeartbeatAt) && rows;
        }, { timeoutMs: 60_000, intervalMs: 100, what: "2 machines recorded, one heartbeating, not all" });
        const heartbeating = before.find((m) => m.agentHeartbeatAt)!;
        const histories = new Map(
          await Promise.all(before.map(async (m) => [m.machineId, await api1.timeline(m.machineId)] as const)),
        );

        const tool = await openBmdb({
          component: "operator-tool",
          databaseUrl: server.url(original),
          logger: quietLogger,
        });
        const toolSession = await tool.startSession({ intervalSeconds: SESSION_INTERVAL_S });
        const inFlight = await toolSession.work(Process.PowerAction, () => Promise.resolve([heartbeating.machineId]));

        const dumpStarted = performance.now();
        await run(`${bin}/pg_dump`, ["-Fc", "-f", dump, "-d", server.url(original)]);
        const dumpSeconds = (performance.now() - dumpStarted) / 1000;

        // 2. The fleet comes up after the backup; then this Drover goes away.
        const fleet = await waitFor(async () => {
          const rows = await api1.machines();
          return rows.length === RESERVATIONS && rows.every((m) => m.agentHeartbeatAt) && rows;
        }, { timeoutMs: 90_000, intervalMs: 250, what: `all ${RESERVATIONS} machines heartbeating before the stop` });
        assert.equal(inFlight.machineId, heartbeating.machineId);
        await toolSession.close(); // here; in the backup, its work stays held
        await tool.close();
        await first.stop();

        // 3. Restore into a fresh database.
        const restoreStarted = performance.now();
        await admin.unsafe(`CREATE DATABASE ${restored} TEMPLATE template0`);
        await run(`${bin}/pg_restore`, ["--exit-on-error", "--no-owner", "-d", server.url(restored), dump]);
        const restoreSeconds = (performance.now() - restoreStarted) / 1000;
        const [{ n: restoredMachines }] = await sql`SELECT count(*)::int AS n FROM machines`;
        assert.ok(restoredMachines < RESERVATIONS, `the backup already held all ${RESERVATIONS} machines`);
        const dumpedSessions = (await sql`SELECT session_id FROM sessions`).map((r) => r.session_id as string);
        const [heldWork] = await sql`SELECT session_id FROM work WHERE machine_id = ${heartbeating.machineId}
          AND process = ${Process.PowerAction}`;
        assert.ok(heldWork && dumpedSessions.includes(heldWork.session_id), "the backup holds the work in flight");

        // 4. A new Drover on the restored database.
        const startedAt = Date.now();
        const second = await start(restored);
        services.push(second);
        const api2 = adminApi(second, adminToken);

        // Both at once, each timed from the start: the loops go on (every device's machine heartbeats to the new
        // Drover, those adopted after the backup too), and the sessions the backup brought back are reaped.
        const secondsSinceStart = () => (Date.now() - startedAt) / 1000;
        const [[after, heartbeatingSeconds], reapedSeconds] = await Promise.all([
          waitFor(async () => {
            const rows = await api2.machines();
            return rows.length === RESERVATIONS &&
              rows.every((m) => m.agentHeartbeatAt && Date.parse(m.agentHeartbeatAt) > startedAt) && rows;
          }, {
            timeoutMs: 90_000,
            intervalMs: 100,
            what: `all ${RESERVATIONS} machines heartbeating to the new Drover`,
          })
            .then((rows) => [rows, secondsSinceStart()] as const),
          waitFor(async () => {
            const [{ n }] =
              await sql`SELECT count(*)::int AS n FROM sessions WHERE session_id = ANY(${dumpedSessions}::uuid[])`;
            return n === 0;
          }, { timeoutMs: 30_000, intervalMs: 100, what: "the backup's sessions reaped" }).then(secondsSinceStart),
        ]);
        const allowedSeconds = SESSION_INTERVAL_S + JANITOR_GRACE_S + JANITOR_INTERVAL_S + 5;
        assert.ok(
          reapedSeconds <= allowedSeconds,
          `reaped ${reapedSeconds.toFixed(1)} s after the start (allowed ${allowedSeconds})`,
        );
        const expired = (await api2.timeline(heartbeating.machineId))
          .find((e) => e.process === Process.PowerAction && e.event === "Expired");
        assert.ok(expired, "the work in flight at the backup is released as Expired");

        // The same fleet: the backup's machines with their ids, provider ids and history; the rest adopted.
        const byProviderId = (rows: MachineSummary[]) => new Map(rows.map((m) => [m.providerId, m]));
        assert.deepEqual([...byProviderId(after).keys()].sort(), [...byProviderId(fleet).keys()].sort());
        for (const m of before) {
          const now = byProviderId(after).get(m.providerId);
          assert.equal(now?.machineId, m.machineId, `machine ${m.machineId} (${m.providerId}) kept its id`);
          assert.equal(now?.providerReservationId, m.providerReservationId);
          const kept = new Set((await api2.timeline(m.machineId)).map(historyKey));
          const lost = histories.get(m.machineId)!.map(historyKey).filter((k) => !kept.has(k));
          assert.deepEqual(lost, [], `machine ${m.machineId}: history of the backup missing after the restore`);
        }
        const state = await (await fetch(`${new URL(sim.settings.EQUINIX_API_URL).origin}/_sim/state`, {
          headers: { "X-Auth-Token": sim.settings.EQUINIX_API_TOKEN },
        })).json() as { devices: { id: string }[] };
        assert.equal(state.devices.length, RESERVATIONS, "no device created twice");

        const { size } = await Deno.stat(dump);
        console.log(
          `pg_dump -Fc ${(size / 1024).toFixed(0)} KiB in ${dumpSeconds.toFixed(2)} s (${before.length} of ` +
            `${RESERVATIONS} machines), pg_restore ${restoreSeconds.toFixed(2)} s; after the new start: all ` +
            `heartbeating ${heartbeatingSeconds.toFixed(1)} s, the backup's ${dumpedSessions.length} sessions ` +
            `reaped ${reapedSeconds.toFixed(1)} s`,
        );
      } finally {
        for (const service of services) await service.stop();
        await sql.end();
        for (const database of [original, restored]) {
          await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        }
        await admin.end();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
