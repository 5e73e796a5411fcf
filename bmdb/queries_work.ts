/**
 * Work statements: claim, commit (finish), fail, release (cancel), and the
 * operator's cancel request and retry. Internal to the BMDB.
 *
 * Each is one data-modifying statement, so each phase of work is one round
 * trip and atomic on its own. Every statement that acts for a session checks
 * in the same statement that the session is alive, so a session that expired
 * on the server can never claim or commit.
 *
 * History rows of one statement are inserted by one INSERT in order, so their
 * `history_id`s follow the order of events (Expired of the old holder before
 * Started of the new one).
 *
 * @module
 */
import type { Row } from "./driver.ts";
import { excludingProcesses, type Process } from "./model.ts";
import { liveWorkOn } from "./queries_workflows.ts";
import { type Guard, guardOn } from "./query.ts";
import { join, raw, type Sql, sql } from "./sql.ts";

/**
 * `AND` no live work of a process that excludes `process` on the machine;
 * empty when none does, or when the candidates already exclude it.
 */
function notExcluded(machine: Sql, process: Process, alreadyExcluded: readonly Process[] = []): Sql {
  const others = excludingProcesses(process).filter((p) => !alreadyExcluded.includes(p));
  return others.length ? sql`AND NOT ${liveWorkOn(machine, others)}` : raw("");
}

const LIVE = (sessionId: string) =>
  sql`SELECT 1 FROM sessions WHERE session_id = ${sessionId}::uuid AND session_deadline > now()`;

// Releasing leaves cancel_requested_* on the free slot (the next claim clears
// them), so a release's RETURNING still sees whether a cancel was requested.
const FREE_SLOT = raw("session_id = NULL, started_at = NULL");

/** What to claim: the session, the process, and the candidates to lock the first of. */
export interface ClaimTarget {
  sessionId: string;
  process: Process;
  /** A query returning `machine_id` (plus whatever the caller wants back). */
  candidates: Sql;
  /** Processes whose live work the candidates already exclude. */
  candidatesExclude?: readonly Process[];
}

/**
 * The CTEs of a claim: `live`, `candidate`, `claimed`, `started`. `when`
 * adds a condition the claim needs besides a live session (a clean commit, in
 * {@linkcode commitAndClaimWork}).
 */
function claimCtes(p: ClaimTarget, when: Sql = raw("")): Sql {
  const s = p.sessionId;
  const proc = p.process;
  return sql`live AS (${LIVE(s)}),
    candidate AS (SELECT * FROM (${p.candidates}) c LIMIT 1),
    claimed AS (
      INSERT INTO work_slot (machine_id, process, session_id, started_at)
      SELECT machine_id, ${proc}::text, ${s}::uuid, now() FROM candidate
      WHERE EXISTS (SELECT 1 FROM live) ${when} ${notExcluded(raw("candidate.machine_id"), proc, p.candidatesExclude)}
      ON CONFLICT (machine_id, process) DO UPDATE
        SET session_id = excluded.session_id, started_at = excluded.started_at,
          cancel_requested_at = NULL, cancel_requested_by = NULL
        WHERE work_slot.session_id IS NULL
      RETURNING machine_id),
    started AS (
      INSERT INTO work_history (machine_id, process, event, session_id)
      SELECT machine_id, ${proc}::text, 'Started', ${s}::uuid FROM claimed)`;
}

/**
 * Locks the first row of `candidates` for `process` if its slot is free and
 * no live work of an excluding process (the other shepherd process) is on the
 * machine, and writes Started. This is the hot path: a slot held by any
 * session, live or dead, is left alone here (see {@linkcode takeOverWork}).
 *
 * One row: the candidate's columns (all NULL when there was none), `__alive`,
 * `__claimed` (0 when the slot is held).
 */
export function claimWork(p: ClaimTarget): Sql {
  return sql`WITH ${claimCtes(p)}
    SELECT c.*, (SELECT count(*) FROM live)::int AS __alive, (SELECT count(*) FROM claimed)::int AS __claimed
    FROM (SELECT 1) one LEFT JOIN candidate c ON true`;
}

/** One claim of a batch: the session claiming, and where its walk starts. */
export interface BatchedClaim {
  sessionId: string;
  start: string;
}

/** A batch of claims through one workflow. */
export interface ClaimBatch {
  process: Process;
  requests: readonly BatchedClaim[];
  firstEligible: (from: Sql) => Sql;
  candidatesExclude?: readonly Process[];
}

/**
 * {@linkcode claimWork} for many sessions in one statement: each request walks
 * the workflow's candidates from its own start (`firstEligible`), and one
 * INSERT claims the first candidate of each. Two requests that found the same
 * machine: the earlier one gets it, the other is marked `__lost` (its caller
 * tries again). One row per request, in order, with `__req` (1-based), the
 * candidate's columns and the same `__alive` and `__claimed` as
 * {@linkcode claimWork}.
 */
export function claimWorkBatch(p: ClaimBatch): Sql {
  const proc = p.process;
  const sessionIds = p.requests.map((r) => r.sessionId);
  const starts = p.requests.map((r) => r.start);
  // ONCHANGE(claim_batcher.ts): the two arrays must stay the first parameters of a claim batch.
  return sql`WITH req AS (
      SELECT r.session_id, r.start, r.ord
      FROM unnest(${sessionIds}::uuid[], ${starts}::uuid[]) WITH ORDINALITY AS r(session_id, start, ord)),
    live AS (
      SELECT req.ord, req.session_id, req.start FROM req
      WHERE EXISTS (SELECT 1 FROM sessions s WHERE s.session_id = req.session_id AND s.session_deadline > now())),
    cand AS (
      SELECT live.ord AS __ord, live.session_id AS __session_id, c.*
      FROM live CROSS JOIN LATERAL (${p.firstEligible(raw("live.start"))}) c),
    picked AS (
      SELECT DISTINCT ON (machine_id) __ord, __session_id, machine_id FROM cand ORDER BY machine_id, __ord),
    claimed AS (
      INSERT INTO work_slot (machine_id, process, session_id, started_at)
      SELECT machine_id, ${proc}::text, __session_id, now() FROM picked
      WHERE true ${notExcluded(raw("picked.machine_id"), proc, p.candidatesExclude)}
      ON CONFLICT (machine_id, process) DO UPDATE
        SET session_id = excluded.session_id, started_at = excluded.started_at,
          cancel_requested_at = NULL, cancel_requested_by = NULL
        WHERE work_slot.session_id IS NULL
      RETURNING machine_id, session_id),
    started AS (
      INSERT INTO work_history (machine_id, process, event, session_id)
      SELECT machine_id, ${proc}::text, 'Started', session_id FROM claimed)
    SELECT req.ord AS __req, (live.ord IS NOT NULL)::int AS __alive, c.*,
      (claimed.machine_id IS NOT NULL)::int AS __claimed,
      (c.machine_id IS NOT NULL AND picked.__ord <> req.ord)::int AS __lost
    FROM req
    LEFT JOIN live ON live.ord = req.ord
    LEFT JOIN cand c ON c.__ord = req.ord
    LEFT JOIN picked ON picked.machine_id = c.machine_id
    LEFT JOIN claimed ON claimed.machine_id = c.machine_id AND claimed.session_id = req.session_id
    ORDER BY req.ord`;
}

/**
 * Takes over a slot held by a dead session (its deadline passed): writes
 * Expired for the old holder (Canceled, naming the operator, if one had asked
 * to cancel it), then Started. A slot held by a live session, or a machine
 * with live work of an excluding process, is left alone. Same result row as
 * {@linkcode claimWork}, for one explicit machine.
 */
export function takeOverWork(p: { sessionId: string; process: Process; machineId: string }): Sql {
  const s = p.sessionId;
  const proc = p.process;
  const m = p.machineId;
  return sql`WITH live AS (${LIVE(s)}),
    holder AS (
      SELECT w.session_id, w.cancel_requested_by FROM work_slot w
      WHERE w.machine_id = ${m}::uuid AND w.process = ${proc}::text AND w.session_id IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.session_id = w.session_id AND s.session_deadline > now())),
    claimed AS (
      UPDATE work_slot SET session_id = ${s}::uuid, started_at = now(),
        cancel_requested_at = NULL, cancel_requested_by = NULL
      WHERE machine_id = ${m}::uuid AND process = ${proc}::text
        AND session_id = (SELECT session_id FROM holder) AND EXISTS (SELECT 1 FROM live)
        ${notExcluded(raw("work_slot.machine_id"), proc)}
      RETURNING machine_id),
    history AS (
      INSERT INTO work_history (machine_id, process, event, session_id, actor)
      SELECT e.machine_id, ${proc}::text, e.event, e.session_id, e.actor FROM (
        SELECT 1 AS seq, c.machine_id,
          CASE WHEN h.cancel_requested_by IS NULL THEN 'Expired' ELSE 'Canceled' END AS event,
          h.session_id, h.cancel_requested_by AS actor
        FROM claimed c, holder h
        UNION ALL
        SELECT 2, c.machine_id, 'Started', ${s}::uuid, NULL FROM claimed c) e
      ORDER BY e.seq)
    SELECT ${m}::uuid AS machine_id,
      (SELECT count(*) FROM live)::int AS __alive,
      (SELECT count(*) FROM claimed)::int AS __claimed`;
}

/** A single explicit candidate, for a `retrieve` that returned machine ids. */
export function explicitCandidate(machineId: string): Sql {
  return sql`SELECT ${machineId}::uuid AS machine_id`;
}

/** How a statement that ends work found it. */
export interface WorkOutcome {
  /** The session was alive (if not, nothing was written). */
  alive: boolean;
  /** The work row was still this session's and was released. */
  released: boolean;
  /** An operator had asked to cancel it (so it was released as Canceled). */
  cancelRequested: boolean;
  /** That operator. */
  canceledBy: string | null;
}

export function toWorkOutcome(rows: Row[]): WorkOutcome {
  const r = rows[0] ?? {};
  return {
    alive: Number(r.alive ?? 0) > 0,
    released: r.released === true,
    cancelRequested: r.cancel_requested === true,
    canceledBy: (r.canceled_by as string | null) ?? null,
  };
}

export type WorkKey = { sessionId: string; machineId: string; process: Process };

/**
 * The CTEs shared by the statements that end work: `live`, and `released`
 * (the slot, if still this session's, freed; returning its cancel request).
 * `prefix` names them apart when several commits share a statement.
 */
function releaseCtes(k: WorkKey, options: { requireLive: boolean; prefix?: string }): Sql {
  const n = (name: string) => raw(`${options.prefix ?? ""}${name}`);
  return sql`${n("live")} AS (${LIVE(k.sessionId)}),
    ${n("released")} AS (
      UPDATE work_slot SET ${FREE_SLOT}
      WHERE machine_id = ${k.machineId}::uuid AND process = ${k.process}::text AND session_id = ${k.sessionId}::uuid
        ${options.requireLive ? sql`AND EXISTS (SELECT 1 FROM ${n("live")})` : raw("")}
      RETURNING machine_id, cancel_requested_at, cancel_requested_by)`;
}

/** The outcome row (see {@linkcode toWorkOutcome}) of the release CTEs named with `prefix`. */
function outcome(prefix = ""): Sql {
  return raw(`SELECT (SELECT count(*) FROM ${prefix}live)::int AS alive, r.machine_id IS NOT NULL AS released,
      r.cancel_requested_at IS NOT NULL AS cancel_requested, r.cancel_requested_by AS canceled_by
    FROM (SELECT 1) one LEFT JOIN ${prefix}released r ON true`);
}

/** The history row of a release: `event` unless an operator asked to cancel (then Canceled, naming them). */
function releaseHistory(
  k: WorkKey,
  event: "Finished" | "Failed" | "Canceled",
  { cause = null, prefix = "" }: { cause?: string | null; prefix?: string } = {},
): Sql {
  // The event is a constant of ours: a literal, not one more parameter to bind.
  const failedCause = cause === null ? raw("NULL") : sql`CASE WHEN cancel_requested_at IS NULL THEN ${cause}::text END`;
  return sql`${raw(`${prefix}history`)} AS (
      INSERT INTO work_history (machine_id, process, event, failed_cause, session_id, actor)
      SELECT ${k.machineId}::uuid, ${k.process}::text,
        CASE WHEN cancel_requested_at IS NULL THEN '${raw(event)}' ELSE 'Canceled' END,
        ${failedCause}, ${k.sessionId}::uuid, cancel_requested_by
      FROM ${raw(`${prefix}released`)})`;
}

/** A commit to make: the work, and the tag writes it applies when not canceled. */
export interface Commit {
  work: WorkKey;
  tags: readonly { build(guard: Guard): Sql }[];
}

/** The CTEs of one commit, named with `prefix`. */
function commitCtes({ work: k, tags }: Commit, prefix: string): Sql {
  const n = (name: string) => raw(`${prefix}${name}`);
  const ok = guardOn(`${prefix}ok`);
  const tagCtes = tags.map((t, i) => sql`${n(`tag_${i + 1}`)} AS (${t.build(ok)})`);
  return sql`${releaseCtes(k, { requireLive: true, prefix })},
    ${n("ok")} AS (SELECT 1 FROM ${n("released")} WHERE cancel_requested_at IS NULL),
    ${releaseHistory(k, "Finished", { prefix })},
    ${n("cleared")} AS (
      DELETE FROM work_backoff WHERE machine_id = ${k.machineId}::uuid AND process = ${k.process}::text
        AND EXISTS (SELECT 1 FROM ${n("ok")}))
    ${tagCtes.length ? sql`, ${join(tagCtes, ", ")}` : raw("")}`;
}

/**
 * Finishes work: if the session is alive and still holds it, releases it and,
 * unless an operator asked to cancel it, writes Finished, clears the backoff
 * and applies the tags (guarded, so a canceled work commits none of them). A
 * canceled work is released with one Canceled row naming the operator.
 */
export function commitWork(commit: Commit): Sql {
  return sql`WITH ${commitCtes(commit, "")} ${outcome()}`;
}

/**
 * Several {@linkcode commitWork}s in one statement (one round trip, one
 * commit): one outcome row per commit, with `__req` (1-based). The commits
 * must not write the same row (PostgreSQL refuses with 21000).
 */
export function commitWorkBatch(commits: readonly Commit[]): Sql {
  const prefix = (i: number) => `c${i + 1}_`;
  const ctes = commits.map((c, i) => commitCtes(c, prefix(i)));
  const outcomes = commits.map((_, i) => sql`SELECT ${raw(String(i + 1))} AS __req, * FROM (${outcome(prefix(i))}) o`);
  return sql`WITH ${join(ctes, ",\n")} ${join(outcomes, " UNION ALL ")}`;
}

/**
 * A commit and the next claim of the same session, in one statement: the
 * claim runs only if the commit released its machine cleanly (not canceled).
 * The machine being released is still busy in the statement's snapshot, so
 * the claim never picks it. One row: the commit's outcome (see
 * {@linkcode toWorkOutcome}), then the claim's candidate columns and
 * `__claimed`.
 */
export function commitAndClaimWork(commit: Commit, claim: ClaimTarget): Sql {
  return sql`WITH ${commitCtes(commit, "c_")}, ${claimCtes(claim, raw("AND EXISTS (SELECT 1 FROM c_ok)"))}
    SELECT o.*, c.*, (SELECT count(*) FROM claimed)::int AS __claimed
    FROM (${outcome("c_")}) o LEFT JOIN candidate c ON true`;
}

/** The interval the last failure of a (machine, process) stored, if a backoff row exists. */
export function lastBackoffInterval(k: { machineId: string; process: Process }): Sql {
  return sql`SELECT last_interval_seconds FROM work_backoff
    WHERE machine_id = ${k.machineId}::uuid AND process = ${k.process}::text`;
}

/**
 * Fails work: releases it, writes Failed with `cause`, and sets a backoff of
 * `seconds`. A canceled work is released as Canceled, without a backoff.
 */
export function failWork(k: WorkKey, p: { cause: string; seconds: number }): Sql {
  return sql`WITH ${releaseCtes(k, { requireLive: true })},
    ${releaseHistory(k, "Failed", { cause: p.cause })},
    backoff AS (
      INSERT INTO work_backoff (machine_id, process, until, cause, last_interval_seconds)
      SELECT ${k.machineId}::uuid, ${k.process}::text, now() + ${p.seconds}::bigint * interval '1 second',
        ${p.cause}::text, ${p.seconds}::bigint
      FROM released r WHERE r.cancel_requested_at IS NULL
      ON CONFLICT (machine_id, process) DO UPDATE
        SET until = excluded.until, cause = excluded.cause, last_interval_seconds = excluded.last_interval_seconds)
    ${outcome()}`;
}

/**
 * Releases work without finishing it (the owner's cancel): Canceled, naming
 * the operator if one asked. Does not require the session to be alive: if the
 * row is still ours, giving it back early is always right.
 */
export function releaseWork(k: WorkKey): Sql {
  return sql`WITH ${releaseCtes(k, { requireLive: false })},
    ${releaseHistory(k, "Canceled")}
    ${outcome()}`;
}

/** What an operator's cancel request found. */
export interface CancelRequestResult {
  machineFound: boolean;
  workFound: boolean;
  /** The owner was alive: it was asked to stop. Otherwise the work was released at once. */
  ownerAlive: boolean;
}

/**
 * An operator's cancel: marks live work as cancel-requested (its owner stops
 * and releases it as Canceled), or releases dead work at once (Canceled,
 * actor: the operator). A repeated request keeps the first requester.
 */
export function requestWorkCancel(p: { machineId: string; process: Process; actor: string }): Sql {
  const where = sql`machine_id = ${p.machineId}::uuid AND process = ${p.process}::text`;
  return sql`WITH machine AS (SELECT 1 FROM machines WHERE machine_id = ${p.machineId}::uuid),
    target AS (
      SELECT w.session_id, EXISTS (SELECT 1 FROM sessions s
          WHERE s.session_id = w.session_id AND s.session_deadline > now()) AS owner_alive
      FROM work_slot w WHERE ${where} AND w.session_id IS NOT NULL),
    marked AS (
      UPDATE work_slot SET cancel_requested_at = COALESCE(cancel_requested_at, now()),
        cancel_requested_by = COALESCE(cancel_requested_by, ${p.actor}::text)
      WHERE ${where} AND EXISTS (SELECT 1 FROM target WHERE owner_alive)
      RETURNING 1),
    released AS (
      UPDATE work_slot SET ${FREE_SLOT}
      WHERE ${where} AND EXISTS (SELECT 1 FROM target WHERE NOT owner_alive)
      RETURNING 1),
    history AS (
      INSERT INTO work_history (machine_id, process, event, session_id, actor)
      SELECT ${p.machineId}::uuid, ${p.process}::text, 'Canceled', t.session_id, ${p.actor}::text
      FROM target t, released)
    SELECT (SELECT count(*) FROM machine)::int AS machine_found,
      (SELECT count(*) FROM target)::int AS work_found,
      COALESCE((SELECT owner_alive FROM target), false) AS owner_alive`;
}

export function toCancelRequestResult(rows: Row[]): CancelRequestResult {
  const r = rows[0] ?? {};
  return {
    machineFound: Number(r.machine_found ?? 0) > 0,
    workFound: Number(r.work_found ?? 0) > 0,
    ownerAlive: r.owner_alive === true,
  };
}

/**
 * An operator's retry: deletes the machine's backoff for `process` (all
 * processes when null) and writes Retried with the actor, even when there was
 * nothing to delete. Returns `machine_found` and `deleted`.
 */
export function retryMachine(p: { machineId: string; process: Process | null; actor: string }): Sql {
  return sql`WITH machine AS (SELECT machine_id FROM machines WHERE machine_id = ${p.machineId}::uuid),
    deleted AS (
      DELETE FROM work_backoff WHERE machine_id = ${p.machineId}::uuid
        AND (${p.process}::text IS NULL OR process = ${p.process}::text)
      RETURNING process),
    history AS (
      INSERT INTO work_history (machine_id, process, event, actor)
      SELECT machine_id, ${p.process}::text, 'Retried', ${p.actor}::text FROM machine)
    SELECT (SELECT count(*) FROM machine)::int AS machine_found, (SELECT count(*) FROM deleted)::int AS deleted`;
}
