/**
 * Issue 7: GET /api/v1/machines latency on a large fleet, as the dashboard
 * asks it (pages of 50): the first page, a deep page through `after`, and
 * searches (`q`) by machine id prefix, IP address, provider id, metro,
 * reservation id and one that finds nothing.
 *
 * Requests go one at a time from this process to the server's process; each
 * case cycles through different targets (machines picked at random from the
 * database, deep `after` ids from the last fifth of the id order), so no
 * case measures one cached row. Every answer is checked (status 200, and the
 * machine searched for among the rows, or no row for a miss), outside the
 * timed part: a fast wrong answer must not pass.
 *
 * @module
 */
import { percentile } from "./percentile.ts";
import type { RawSql } from "./raw_sql.ts";

/** What the cases search for: each list is cycled through. */
export interface ApiProbes {
  /** Machines picked at random: id, IP, provider id, metro, reservation id. */
  machines: {
    machineId: string;
    ip: string;
    providerId: string;
    metro: string;
    reservationId: string | null;
  }[];
  /** Ids in the last fifth of the id order, for deep pages. */
  deepAfterIds: string[];
}

interface MachineRow {
  machineId: string;
  providerIpAddress: string | null;
  providerId: string | null;
  providerLocation: string | null;
  providerReservationId: string | null;
}

/** One kind of request, and how to check its answers. */
interface ApiCase {
  name: string;
  /** The i-th request's query string. */
  query(i: number): string;
  /** Why the i-th answer is wrong, or undefined when it is right. */
  wrong(i: number, rows: MachineRow[]): string | undefined;
}

export interface ApiCaseResult {
  name: string;
  /** An example of the query string. */
  example: string;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Rows per answer, the median. */
  rows: number;
}

export interface AdminApiLatencyOptions {
  /** Timed requests per case. */
  requests: number;
  /** Untimed requests per case before them (connections, plans, caches). */
  warmup: number;
}

/** Picks `count` random machines and `count` deep `after` ids from the database. */
export async function pickProbes(db: RawSql, count: number): Promise<ApiProbes> {
  const machines = await db.query(
    `SELECT m.machine_id::text AS machine_id, mp.provider_ip_address, mp.provider_id, mp.provider_location,
       mp.provider_reservation_id
     FROM machines m JOIN machine_provided mp ON mp.machine_id = m.machine_id
     ORDER BY random() LIMIT ${Math.floor(count)}`,
  );
  const deep = await db.query(
    `SELECT machine_id::text AS machine_id FROM (
       SELECT machine_id, row_number() OVER (ORDER BY machine_id) AS n, count(*) OVER () AS total FROM machines) m
     WHERE n > total * 0.8 AND n < total - 100 ORDER BY random() LIMIT ${Math.floor(count)}`,
  );
  if (machines.length === 0 || deep.length === 0) throw new Error("the database holds too few machines to probe");
  return {
    machines: machines.map((r) => ({
      machineId: String(r.machine_id),
      ip: String(r.provider_ip_address),
      providerId: String(r.provider_id),
      metro: String(r.provider_location),
      reservationId: r.provider_reservation_id == null ? null : String(r.provider_reservation_id),
    })),
    deepAfterIds: deep.map((r) => String(r.machine_id)),
  };
}

function cases(probes: ApiProbes): ApiCase[] {
  const m = (i: number) => probes.machines[i % probes.machines.length];
  const finds = (what: string, pick: (row: MachineRow) => boolean) => (rows: MachineRow[]) =>
    rows.some(pick) ? undefined : `no row has ${what}`;
  const list: ApiCase[] = [
    {
      name: "first page",
      query: () => "limit=50",
      wrong: (_, rows) => rows.length === 50 ? undefined : `${rows.length} rows, not 50`,
    },
    {
      name: "deep page (after)",
      query: (i) => `after=${probes.deepAfterIds[i % probes.deepAfterIds.length]}&limit=50`,
      wrong: (i, rows) => {
        const after = probes.deepAfterIds[i % probes.deepAfterIds.length];
        return rows.length === 50 && rows[0].machineId > after ? undefined : `${rows.length} rows after ${after}`;
      },
    },
    {
      name: "search: machine id prefix",
      query: (i) => `q=${m(i).machineId.slice(0, 8)}&limit=50`,
      wrong: (i, rows) => finds(`machine ${m(i).machineId}`, (r) => r.machineId === m(i).machineId)(rows),
    },
    {
      name: "search: IP address",
      query: (i) => `q=${m(i).ip}&limit=50`,
      wrong: (i, rows) => finds(`IP ${m(i).ip}`, (r) => r.providerIpAddress === m(i).ip)(rows),
    },
    {
      name: "search: provider id",
      query: (i) => `q=${m(i).providerId}&limit=50`,
      wrong: (i, rows) => finds(`provider id ${m(i).providerId}`, (r) => r.providerId === m(i).providerId)(rows),
    },
    {
      name: "search: metro",
      query: (i) => `q=${m(i).metro}&limit=50`,
      wrong: (i, rows) =>
        rows.length === 50 && rows.every((r) => r.providerLocation === m(i).metro)
          ? undefined
          : `${rows.length} rows, not 50 in metro ${m(i).metro}`,
    },
  ];
  if (probes.machines.every((x) => x.reservationId !== null)) {
    list.push({
      name: "search: reservation id",
      query: (i) => `q=${m(i).reservationId}&limit=50`,
      wrong: (i, rows) =>
        finds(`reservation ${m(i).reservationId}`, (r) => r.providerReservationId === m(i).reservationId)(rows),
    });
  }
  list.push({
    name: "search: a miss",
    // 10.200.x.y: no seeded address (they are 10.0-1.x.y); not hex, so no machine id range either.
    query: (i) => `q=10.200.${i % 250}.${(i * 7) % 250}&limit=50`,
    wrong: (_, rows) => rows.length === 0 ? undefined : `${rows.length} rows for an address nobody has`,
  });
  return list;
}

async function get(url: string, token: string): Promise<{ ms: number; rows: MachineRow[] }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.json() as { rows?: MachineRow[]; error?: string };
  const ms = performance.now() - started;
  if (response.status !== 200 || !body.rows) {
    throw new Error(`GET ${url}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
  return { ms, rows: body.rows };
}

/** Times every case against the server at `baseUrl`. @throws {Error} on a failed or wrong answer. */
export async function measureAdminApiLatency(
  baseUrl: string,
  token: string,
  probes: ApiProbes,
  options: AdminApiLatencyOptions,
): Promise<ApiCaseResult[]> {
  const results: ApiCaseResult[] = [];
  for (const c of cases(probes)) {
    const latencies: number[] = [];
    const rowCounts: number[] = [];
    for (let i = 0; i < options.warmup + options.requests; i++) {
      const url = `${baseUrl}/api/v1/machines?${c.query(i)}`;
      const { ms, rows } = await get(url, token);
      const wrong = c.wrong(i, rows);
      if (wrong) throw new Error(`GET ${url} (${c.name}): wrong answer: ${wrong}`);
      if (i >= options.warmup) {
        latencies.push(ms);
        rowCounts.push(rows.length);
      }
    }
    results.push({
      name: c.name,
      example: c.query(0),
      requests: latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: Math.max(...latencies),
      rows: percentile(rowCounts, 50),
    });
  }
  return results;
}
