/**
 * The bench fleet, written with raw SQL (fast, and the same on both
 * databases): provided machines, backoffs spread over the id space, work
 * slots, idle sessions; and the resets between runs.
 *
 * @module
 */
import type { RawSql } from "./raw_sql.ts";

/** The process and provider of the work unit (as strings: this is raw SQL). */
const PROCESS = "ShepherdAgentStart";
const PROVIDER = "Equinix";
const IDLE_COMPONENT = "bench-idle";

/** Options for {@linkcode seedFleet}. */
export interface SeedFleetOptions {
  machines: number;
  /** One machine in this many (every n-th by id order) gets an active backoff. */
  backoffEvery: number;
  /** Metro codes the machines are spread over, round robin in id order. @default ["da11"] */
  metros?: readonly string[];
  /** Give each machine a hardware reservation id (a UUID), as devices made from reservations have. @default false */
  reservationIds?: boolean;
}

const METRO = /^[a-z0-9]{1,16}$/;

/** What {@linkcode seedFleet} left in the database. */
export interface FleetCounts {
  machines: number;
  provided: number;
  activeBackoffs: number;
  slots: number;
}

/**
 * Seeds an empty, migrated BMDB. Backoffs go to every n-th machine in id
 * order, as the anchor spreads its own: a contiguous block would make the
 * claims that start next to it walk past ~n ineligible machines (and take
 * relation-level predicate locks doing so).
 * @throws {Error} the database already holds machines.
 */
export async function seedFleet(db: RawSql, options: SeedFleetOptions): Promise<FleetCounts> {
  const existing = Number((await db.query("SELECT count(*)::int AS n FROM machines"))[0].n);
  if (existing > 0) throw new Error(`Cannot seed the bench fleet: the database already holds ${existing} machines`);
  const n = Math.floor(options.machines);
  const every = Math.floor(options.backoffEvery);
  const metros = options.metros ?? ["da11"];
  const badMetro = metros.find((m) => !METRO.test(m));
  if (metros.length === 0 || badMetro !== undefined) {
    throw new RangeError(`metros must be 1..16 lowercase letters or digits each: current value is ${badMetro}`);
  }
  await db.query(
    `INSERT INTO machines (machine_id, machine_created_at) SELECT gen_random_uuid(), now() FROM generate_series(1, ${n})`,
  );
  await db.query(
    `INSERT INTO machine_provided (machine_id, provider, provider_id, provider_ip_address, provider_location,
       provider_status, provider_reservation_id)
     SELECT machine_id, '${PROVIDER}', 'bench-' || n,
       '10.' || (n / 65536) % 256 || '.' || (n / 256) % 256 || '.' || n % 256,
       (ARRAY[${metros.map((m) => `'${m}'`).join(",")}])[n % ${metros.length} + 1], 'Running',
       ${options.reservationIds ? "gen_random_uuid()::text" : "NULL"}
     FROM (SELECT machine_id, row_number() OVER (ORDER BY machine_id) AS n FROM machines) m`,
  );
  await db.query(
    `INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds)
     SELECT machine_id, '${PROCESS}', now() + interval '1 day', 'bench: seeded backoff', 86400
     FROM (SELECT machine_id, row_number() OVER (ORDER BY machine_id) AS n FROM machines) m
     WHERE n % ${every} = 0`,
  );
  await db.query(`INSERT INTO work_slot (machine_id, process) SELECT machine_id, '${PROCESS}' FROM machines`);
  await db.query("VACUUM ANALYZE");
  // The seed's WAL should not set off a checkpoint in the middle of a measured run.
  await db.query("CHECKPOINT");
  const row = (await db.query(
    `SELECT (SELECT count(*) FROM machines)::int AS machines,
       (SELECT count(*) FROM machine_provided)::int AS provided,
       (SELECT count(*) FROM work_backoff WHERE until > now())::int AS active_backoffs,
       (SELECT count(*) FROM work_slot)::int AS slots`,
  ))[0];
  return {
    machines: Number(row.machines),
    provided: Number(row.provided),
    activeBackoffs: Number(row.active_backoffs),
    slots: Number(row.slots),
  };
}

/**
 * Makes `count` idle live sessions (rows with a deadline a day away, which
 * nothing heartbeats), replacing the previous configuration's.
 */
export async function setIdleSessions(db: RawSql, count: number): Promise<void> {
  await db.query(`DELETE FROM sessions WHERE session_component_name = '${IDLE_COMPONENT}'`);
  if (count <= 0) return;
  await db.query(
    `INSERT INTO sessions (session_component_name, session_runtime_info, session_created_at,
       session_interval_seconds, session_deadline)
     SELECT '${IDLE_COMPONENT}', 'idle session of deno task bench', now(), 86400, now() + interval '1 day'
     FROM generate_series(1, ${Math.floor(count)})`,
  );
}

/**
 * Between runs: every machine eligible again (no agent started), an empty
 * history, and the hot tables vacuumed, as the anchor rebuilds its schema
 * before each client count.
 */
export async function resetFleet(db: RawSql): Promise<void> {
  await db.query("DELETE FROM machine_agent_started");
  await db.query("TRUNCATE work_history");
  await db.query("VACUUM ANALYZE machine_agent_started, work_slot, work_history, work_backoff, sessions");
}

/** Marks every machine's agent as started, so no machine is eligible for agent start. */
export async function markEveryAgentStarted(db: RawSql): Promise<void> {
  await db.query(
    `INSERT INTO machine_agent_started (machine_id, agent_started_at, agent_public_key)
     SELECT machine_id, now(), '\\x00'::bytea FROM machines ON CONFLICT DO NOTHING`,
  );
  await db.query("VACUUM ANALYZE machine_agent_started");
}
