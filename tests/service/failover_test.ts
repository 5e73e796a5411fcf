/**
 * PostgreSQL failover under three replicas (issue 29, point 2), run twice:
 * asynchronous and synchronous streaming replication.
 *
 * The replicas are separate processes on a standalone simulator, given
 * `DATABASE_URL=postgres://postgres@primary,standby/drover?target_session_attrs=read-write`.
 * With the fleet half built (devices being created, agents started and
 * heartbeating), the standby is detached for a moment, as by a network
 * partition: asynchronously the primary commits on alone (devices created,
 * work claimed, sessions started that the standby will never have),
 * synchronously its commits wait for the standby. Then the primary's
 * postmaster is SIGKILLed and, after a failover manager's delay, the standby
 * promoted.
 *
 * Checked afterwards, as an operator would:
 * - synchronous: everything a client could read on the primary just before
 *   the kill (history rows, machines, devices recorded) is on the new primary;
 *   asynchronous: the staged lag did lose device records, and each such device
 *   was adopted (logged), never created twice;
 * - within the stated bounds (the figures are printed): every worker of every
 *   replica holds a session heartbeated on the new primary, every machine that
 *   heartbeated before the kill heartbeats again, and the whole fleet comes up;
 * - the simulator has exactly one device per reservation, the BMDB one
 *   machine per device;
 * - no (machine, process) was Started twice without an end between;
 * - sessions left dead by the failover are reaped and hold no work;
 * - every replica's live feed (its LISTEN) still moves: a machine inserted on
 *   the new primary shows in the counts it streams within seconds;
 * - no replica exited, and each stops cleanly on SIGTERM.
 *
 * @module
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { replicationRequirement, startReplicatedPostgres } from "../harness/postgres_replication.ts";
import { type ReplicaProcess, spawnReplica } from "../harness/replica_process.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { startSimProcess } from "../harness/sim_process.ts";
import { openSse } from "../harness/sse.ts";
import { waitFor } from "../harness/wait.ts";

/** Where the replicas' logs are kept (tests/artifacts is not committed). */
const ARTIFACTS = new URL("../artifacts/", import.meta.url);
const FLEET = 24;
const REPLICAS = 3;
const SESSION_INTERVAL_S = 5; // the runner's default
const INITIALIZER_WORKERS = 2;
const RECOVERER_WORKERS = 1; // the default
/** Sessions each replica's runners hold while working: one per worker. */
const RUNNER_SESSIONS = INITIALIZER_WORKERS + RECOVERER_WORKERS;
const JANITOR_GRACE_S = 2;
const JANITOR_INTERVAL_S = 1;
/** The failover manager's delay between the crash and the promotion (tools like Patroni take seconds). */
const PROMOTION_DELAY_MS = 2_000;
/**
 * Kill → every worker of every replica heartbeating a session on the new
 * primary: the promotion (its delay and `pg_ctl promote`), then at most a
 * session interval for a session whose heartbeats failed meanwhile to end and
 * be replaced, plus a reconnect (the pool's backoff, at most 1 s); the rest
 * is margin for a loaded machine.
 */
const REPLICAS_WRITING_BOUND_S = 15;
/** Kill → every machine that heartbeated before the kill heartbeating again (agents retry every second). */
const MACHINES_BACK_BOUND_S = 20;
/** A machine "heartbeats" when its last heartbeat is this recent (agents beat every second here). */
const HEARTBEAT_FRESH_S = 5;

interface Snapshot {
  historyIds: Set<string>;
  machineIds: Set<string>;
  providerIds: Set<string>;
  /** Provider ids of the machines heartbeating at the time. */
  heartbeating: Set<string>;
}

/** What a client sees on `sql`'s server, in one snapshot. */
async function snapshot(sql: postgres.Sql): Promise<Snapshot> {
  return await sql.begin("ISOLATION LEVEL REPEATABLE READ READ ONLY", async (tx) => {
    const history = await tx`SELECT history_id::text AS id FROM work_history`;
    const machines = await tx`SELECT machine_id::text AS id FROM machines`;
    const provided = await tx`SELECT provider_id AS id FROM machine_provided`;
    const beating = await tx.unsafe(`SELECT mp.provider_id AS id FROM machine_provided mp
      JOIN machine_agent_heartbeat h USING (machine_id)
      WHERE h.agent_heartbeat_at > now() - interval '${HEARTBEAT_FRESH_S} seconds'`);
    const ids = (rows: readonly postgres.Row[]) => new Set(rows.map((r) => String(r.id)));
    return {
      historyIds: ids(history),
      machineIds: ids(machines),
      providerIds: ids(provided),
      heartbeating: ids(beating),
    };
  });
}

/** The ids of `ids` that `present` lacks. */
function absent(ids: Set<string>, present: Set<string>): string[] {
  return [...ids].filter((id) => !present.has(id));
}

/** The replica's log lines (JSON) with `msg`. */
function logEntries(replica: ReplicaProcess, msg: string): Record<string, unknown>[] {
  return replica.log().split("\n").filter((line) => line.startsWith("{") && line.includes(msg))
    .map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => e.msg === msg);
}

/** The end of a replica's log. */
function tail(replica: ReplicaProcess): string {
  return replica.log().split("\n").slice(-30).join("\n");
}

/** Each replica's last warnings and errors, for a failure's message. */
function warnings(replicas: readonly ReplicaProcess[]): string {
  return replicas.map((r) => {
    const status = r.exited();
    return `replica pid ${r.pid}${status ? ` (exited ${status.code})` : ""}:\n` +
      r.log().split("\n").filter((line) => /"level":"(warn|error)"/.test(line)).slice(-20).join("\n");
  }).join("\n");
}

/** Throws, naming it, if a replica exited: waits call it first, so a crash fails the test at once. */
function assertRunning(replicas: readonly ReplicaProcess[]): void {
  for (const r of replicas) {
    const status = r.exited();
    if (status) throw new Error(`replica pid ${r.pid} exited (${status.code}); its log ends:\n${tail(r)}`);
  }
}

/** What the replicas' environment sets (the simulator's settings beside). */
function replicaEnv(databaseUrl: string, adminToken: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    DROVER_SIM_AGENTS: "true",
    DROVER_ADMIN_TOKEN: adminToken,
    DROVER_MAX_DEVICES: String(FLEET),
    // Slow enough that devices are still being created when the primary dies.
    DROVER_DEVICE_CREATION_RATE: "2s,1",
    DROVER_DB_RATE: "10ms,8",
    DROVER_PROVISIONER_INTERVAL: "500ms",
    DROVER_UPDATER_INTERVAL: "500ms",
    DROVER_INITIALIZER_PARALLELISM: String(INITIALIZER_WORKERS),
    DROVER_RECOVERER_PARALLELISM: String(RECOVERER_WORKERS),
    EQUINIX_API_RATE: "0ms",
    EQUINIX_REQUEST_TIMEOUT: "2s",
    DROVER_AGENT_HEARTBEAT_INTERVAL: "1s",
    DROVER_AGENT_START_TIMEOUT: "30s",
    // Longer than the failover: its outage alone must not send machines to recovery.
    DROVER_AGENT_HEARTBEAT_TIMEOUT: "30s",
    DROVER_JANITOR_GRACE: `${JANITOR_GRACE_S}s`,
    DROVER_JANITOR_INTERVAL: `${JANITOR_INTERVAL_S}s`,
    DROVER_LOG_FORMAT: "json",
    DROVER_LOG_LEVEL: "info",
  };
}

/** Seconds from the kill until each thing was seen, polled every 100 ms on the new primary. */
interface Recovery {
  /** Per replica: every worker holds a session heartbeated after the kill. */
  replicasWriting: number[];
  /** Every machine heartbeating before the kill (by device) heartbeats again. */
  machinesBack: number;
  /** The whole fleet heartbeats. */
  fleet: number;
}

async function measureRecovery(
  sql: postgres.Sql,
  o: { replicas: readonly ReplicaProcess[]; killedAt: Date; killedMs: number; heartbeatingBefore: Set<string> },
): Promise<Recovery> {
  const deadlineAfterKill = new Date(o.killedAt.getTime() + SESSION_INTERVAL_S * 1000);
  const writingAt = new Map<number, number>();
  let machinesBack: number | undefined;
  let fleet: number | undefined;
  return await waitFor(async () => {
    assertRunning(o.replicas);
    const now = (performance.now() - o.killedMs) / 1000;
    const sessions = await sql`SELECT session_runtime_info AS info FROM sessions
      WHERE session_deadline > ${deadlineAfterKill} AND session_deadline > now()`.catch(() => []);
    for (const r of o.replicas) {
      const held = sessions.filter((s) => String(s.info).includes(`pid ${r.pid} loop `)).length;
      if (held >= RUNNER_SESSIONS && !writingAt.has(r.pid)) writingAt.set(r.pid, now);
    }
    const beating = await sql.unsafe(
      `SELECT mp.provider_id AS id FROM machine_provided mp JOIN machine_agent_heartbeat h USING (machine_id)
        WHERE h.agent_heartbeat_at > $1 AND h.agent_heartbeat_at > now() - interval '${HEARTBEAT_FRESH_S} seconds'`,
      [o.killedAt],
    ).catch(() => []);
    const back = new Set(beating.map((b) => String(b.id)));
    if (machinesBack === undefined && absent(o.heartbeatingBefore, back).length === 0) machinesBack = now;
    if (fleet === undefined && back.size === FLEET) fleet = now;
    if (writingAt.size < o.replicas.length || machinesBack === undefined || fleet === undefined) return false;
    return { replicasWriting: [...writingAt.values()], machinesBack, fleet };
  }, { timeoutMs: 120_000, intervalMs: 100, what: "every replica writing and every machine heartbeating" }).catch(
    async (error) => {
      const quiet = await sql`SELECT m.machine_id, mp.provider_id, mp.provider_status, a.agent_started_at,
          h.agent_heartbeat_at
        FROM machines m JOIN machine_provided mp USING (machine_id)
        LEFT JOIN machine_agent_started a USING (machine_id) LEFT JOIN machine_agent_heartbeat h USING (machine_id)
        WHERE h.agent_heartbeat_at IS NULL OR h.agent_heartbeat_at < now() - interval '5 seconds'`;
      throw new Error(
        `${error.message}\nwriting: ${JSON.stringify([...writingAt])}, machines back at ${machinesBack}, ` +
          `fleet at ${fleet}\nquiet: ${JSON.stringify(quiet)}\n${warnings(o.replicas)}`,
      );
    },
  );
}

/** No (machine, process) Started twice without an end between, in the history on `sql`. */
async function assertNothingWorkedTwice(sql: postgres.Sql): Promise<void> {
  const history = await sql`SELECT machine_id, process, event FROM work_history ORDER BY history_id`;
  const open = new Set<string>();
  for (const h of history) {
    const key = `${h.machine_id}|${h.process}`;
    if (h.event === "Started") {
      assert.ok(!open.has(key), `${key} Started twice without an end in between`);
      open.add(key);
    } else if (h.event !== "Retried") open.delete(key);
  }
}

/**
 * Inserts a machine on `sql` and waits for every replica's event stream to
 * count it: only the change feed's LISTEN brings that within seconds (its
 * resync comes every minute). Returns how long the slowest took, in ms.
 */
async function liveFeedsMove(sql: postgres.Sql, replicas: readonly ReplicaProcess[], adminToken: string) {
  const streams = await Promise.all(
    replicas.map((r) => openSse(`${r.url}/api/v1/events`, { authorization: `Bearer ${adminToken}` })),
  );
  try {
    const [{ n: machines }] = await sql`SELECT count(*)::int AS n FROM machines`;
    const [{ machine_id: probe }] = await sql`INSERT INTO machines DEFAULT VALUES RETURNING machine_id`;
    const insertedMs = performance.now();
    const counted = (frame: { event?: string; data?: string }) => {
      if (frame.event !== "counts" && frame.event !== "snapshot") return false;
      const data = JSON.parse(frame.data ?? "{}");
      return (data.counts ?? data).machines === machines + 1;
    };
    await Promise.all(streams.map((s) => s.next(counted, 5_000)));
    const tookMs = performance.now() - insertedMs;
    await sql`DELETE FROM machines WHERE machine_id = ${probe}`;
    return tookMs;
  } finally {
    await Promise.all(streams.map((s) => s.close()));
  }
}

async function failover({ synchronous }: { synchronous: boolean }): Promise<void> {
  const mode = synchronous ? "synchronous" : "asynchronous";
  await using pair = await startReplicatedPostgres({ synchronous });
  await pair.primary.admin("CREATE DATABASE drover");
  await using simProcess = await startSimProcess(["--reservations", String(FLEET)]);
  const sim = simProcess.settings;
  const dir = await Deno.makeTempDir({ prefix: "drover-failover-" });
  const adminToken = `admin-${crypto.randomUUID()}`;
  const env = { ...sim, ...replicaEnv(pair.url("drover"), adminToken) };
  const replicas = Array.from({ length: REPLICAS }, (_, i) => spawnReplica(env, { dataDir: `${dir}/replica-${i}` }));
  const primary = postgres(pair.primary.url("drover"), { onnotice: () => {}, max: 2 });
  const standby = postgres(pair.standby.url("drover"), { onnotice: () => {}, max: 2 });
  const count = async (sql: postgres.Sql, text: string) => Number((await sql.unsafe(text))[0].n);
  let failed = false;
  try {
    // 1. The fleet under way: agents heartbeating, devices still being created.
    await waitFor(async () => {
      assertRunning(replicas);
      const beating = await count(
        primary,
        `SELECT count(*)::int AS n FROM machine_agent_heartbeat WHERE agent_heartbeat_at > now() - interval '5 seconds'`,
      ).catch(() => 0);
      return beating >= 3;
    }, { timeoutMs: 90_000, intervalMs: 100, what: "three machines heartbeating" }).catch((error) => {
      throw new Error(`${error.message}\n${warnings(replicas)}`);
    });
    const provided = () => count(primary, "SELECT count(*)::int AS n FROM machine_provided");
    const atDetach = await provided();
    assert.ok(atDetach <= FLEET - 3, `the fleet was built too fast to fail over under way (${atDetach} of ${FLEET})`);

    // 2. The standby falls behind: the primary commits alone (async), or its commits wait (sync).
    await pair.detachStandby();
    if (synchronous) {
      const waiting = await waitFor(async () => (await pair.commitsWaitingForStandby()) || false, {
        timeoutMs: 10_000,
        what: "commits on the primary waiting for the synchronous standby",
      });
      console.log(`${mode}: ${waiting} commits waiting for the detached standby`);
    } else {
      await waitFor(async () => (await provided()) >= atDetach + 2, {
        timeoutMs: 20_000,
        intervalMs: 50,
        what: "two more devices recorded on the primary alone",
      });
    }
    // What clients read from the primary just before it dies: acknowledged commits only
    // (a commit still waiting for the synchronous standby is not visible to other sessions).
    const acknowledged = await snapshot(primary);

    // 3. The crash, and the promotion a failover manager would make.
    const killedAt = await pair.killPrimary();
    const killedMs = performance.now();
    await primary.end({ timeout: 1 });
    await pair.standbyReplayed();
    const survived = await snapshot(standby); // what the promoted standby starts from
    const lost = {
      history: absent(acknowledged.historyIds, survived.historyIds),
      machines: absent(acknowledged.machineIds, survived.machineIds),
      devices: absent(acknowledged.providerIds, survived.providerIds),
    };
    console.log(
      `${mode}: lost in the failover: ${lost.history.length} history rows, ${lost.machines.length} machines, ` +
        `${lost.devices.length} device records (of ${acknowledged.providerIds.size} recorded on the primary)`,
    );
    if (synchronous) {
      assert.deepEqual(
        lost,
        { history: [], machines: [], devices: [] },
        "a commit acknowledged by the primary was lost",
      );
    } else {
      assert.ok(lost.devices.length >= 1, "the staged lag should have lost device records");
    }
    const promoteIn = PROMOTION_DELAY_MS - (performance.now() - killedMs);
    if (promoteIn > 0) await new Promise((resolve) => setTimeout(resolve, promoteIn)); // the failover manager's delay
    await pair.promoteStandby();
    const promotedS = (performance.now() - killedMs) / 1000;

    // 4. Recovery, measured from the kill.
    const sql = standby; // the new primary
    const recovery = await measureRecovery(sql, {
      replicas,
      killedAt,
      killedMs,
      heartbeatingBefore: acknowledged.heartbeating,
    });
    const replicasWritingS = Math.max(...recovery.replicasWriting);
    console.log(
      `${mode}: killed ${killedAt.toISOString()}, promoted ${promotedS.toFixed(1)} s later; after the kill: ` +
        `every replica writing in ${replicasWritingS.toFixed(1)} s ` +
        `(${recovery.replicasWriting.map((s) => s.toFixed(1)).join(", ")}; bound ${REPLICAS_WRITING_BOUND_S} s), ` +
        `the ${acknowledged.heartbeating.size} machines heartbeating before it heartbeating again in ` +
        `${recovery.machinesBack.toFixed(1)} s (bound ${MACHINES_BACK_BOUND_S} s), all ${FLEET} in ` +
        `${recovery.fleet.toFixed(1)} s`,
    );
    assert.ok(replicasWritingS <= REPLICAS_WRITING_BOUND_S, `replicas writing ${replicasWritingS.toFixed(1)} s after`);
    assert.ok(
      recovery.machinesBack <= MACHINES_BACK_BOUND_S,
      `machines heartbeating ${recovery.machinesBack.toFixed(1)} s after`,
    );

    // 5. The provider and the BMDB agree: one device per reservation, one machine per device.
    const state = await (await fetch(`${new URL(sim.EQUINIX_API_URL).origin}/_sim/state`, {
      headers: { "X-Auth-Token": sim.EQUINIX_API_TOKEN },
    })).json() as { devices: { id: string }[]; reservations: { id: string; device?: { id: string } }[] };
    assert.equal(state.devices.length, FLEET, "exactly one device per reservation");
    assert.equal(new Set(state.reservations.map((r) => r.device?.id).filter(Boolean)).size, FLEET);
    const recorded = new Set((await sql`SELECT provider_id FROM machine_provided`).map((r) => r.provider_id as string));
    assert.deepEqual([...recorded].sort(), state.devices.map((d) => d.id).sort(), "one machine per device");
    for (const device of lost.devices) {
      const adoptedBy = replicas.filter((r) =>
        logEntries(r, "adopted a managed device the BMDB did not know").some((e) => e.providerId === device)
      );
      assert.equal(adoptedBy.length, 1, `device ${device}, whose record was lost, adopted by exactly one replica`);
    }

    // 6. No (machine, process) worked twice at once, as the history on the new primary tells it.
    await assertNothingWorkedTwice(sql);

    // 7. Sessions the failover left dead are reaped, and no work waits on a dead session.
    const reapedWithinS = SESSION_INTERVAL_S + JANITOR_GRACE_S + JANITOR_INTERVAL_S + 1;
    await waitFor(async () => {
      assertRunning(replicas);
      const [row] = await sql.unsafe(`SELECT
          (SELECT count(*) FROM sessions WHERE session_deadline < now() - interval '${reapedWithinS} seconds')::int
            AS stale,
          (SELECT count(*) FROM work_slot w JOIN sessions s USING (session_id)
            WHERE s.session_deadline < now() - interval '${reapedWithinS} seconds')::int AS stranded`);
      return row.stale === 0 && row.stranded === 0;
    }, { timeoutMs: 20_000, intervalMs: 200, what: "dead sessions reaped and their work released" });

    // 8. Every replica's live feed moves: a machine inserted on the new primary shows in the counts it streams.
    const feedMs = await liveFeedsMove(sql, replicas, adminToken);
    console.log(`${mode}: every replica's live feed showed a new machine ${Math.round(feedMs)} ms after its insert`);

    // 9. No replica exited.
    assertRunning(replicas);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    await Promise.all([primary.end({ timeout: 1 }), standby.end({ timeout: 1 })]);
    const stoppingAt = performance.now();
    const statuses = await Promise.all(replicas.map((r) => r.stop()));
    const stopSeconds = (performance.now() - stoppingAt) / 1000;
    await Deno.remove(dir, { recursive: true });
    // The replicas' logs, for a look at how they rode the failover.
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    for (const [i, r] of replicas.entries()) {
      await Deno.writeTextFile(new URL(`failover-${mode}-replica-${i}.log`, ARTIFACTS), r.log());
    }
    // Each stops cleanly on SIGTERM (checked only when nothing failed before: that failure is the one to see).
    if (!failed) {
      statuses.forEach((status, i) =>
        assert.equal(
          status.code,
          0,
          `replica ${i} exited ${status.code} on SIGTERM; its log ends:\n${tail(replicas[i])}`,
        )
      );
      assert.ok(stopSeconds < 12, `the replicas stopped ${stopSeconds.toFixed(1)} s after SIGTERM`);
    }
  }
}

if (serviceAvailable(replicationRequirement)) {
  for (const synchronous of [false, true]) {
    Deno.test({
      name: `PostgreSQL failover with ${synchronous ? "synchronous" : "asynchronous"} replication: ` +
        (synchronous ? "nothing acknowledged lost" : "lost device records adopted") +
        ", every replica and machine back within bounds, nothing worked twice",
      sanitizeResources: false,
      sanitizeOps: false,
      fn: () => failover({ synchronous }),
    });
  }
}
