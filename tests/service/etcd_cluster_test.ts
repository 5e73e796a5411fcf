/**
 * Drover on a three-member etcd cluster loses the leader (SIGKILL) and gets
 * it back. Drover runs as an operator runs it (`deno task start`'s command)
 * with `ETCD_ENDPOINTS` listing the three members and the embedded Metal
 * simulator, whose reservations change all along (the provisioner puts a
 * device on one of them every 600 ms) and are published to etcd by the
 * reservations publisher; three dashboard clients watch them over SSE.
 *
 * Checked: publishing goes on within a stated bound after the kill (printed:
 * kill → next write to etcd, and → every SSE watcher showing it); every SSE
 * watcher ends on exactly what etcd holds; the returning member catches up
 * (its own, member-local read equals the cluster's, revision and values);
 * Drover never exits, logs no error and stops cleanly on SIGTERM.
 *
 * @module
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import type { Etcd3, IKeyValue } from "etcd3";
import { RESERVATIONS_PREFIX, type ReservationView } from "../../loops/mod.ts";
import { etcdRequirement } from "../harness/etcd.ts";
import { type EtcdCluster, type EtcdMember, startEtcdCluster } from "../harness/etcd_cluster.ts";
import { freePort } from "../harness/free_port.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { openSse } from "../harness/sse.ts";
import { waitFor, within } from "../harness/wait.ts";
import { spawnWatched } from "../harness/watched_process.ts";
import { startTaskArgs } from "../harness/start_task.ts";

const REPO = new URL("../../", import.meta.url).pathname;
/** `deno task start`'s command, run directly, so signals reach Drover itself. */
const START_ARGS = startTaskArgs();

const RESERVATIONS = 48;
/** One device (so one changed reservation) per this long: changes go on for about half a minute. */
const CREATION_INTERVAL = "600ms";
const SSE_WATCHERS = 3;
/** The embedded simulator's publish interval (server/service.ts). */
const PUBLISH_INTERVAL_MS = 5_000;
/**
 * Kill → next successful publish, stated: the pass waits up to one interval,
 * and a write caught by the kill is abandoned after the client's 2 s attempt
 * deadline (event/etcd_client.ts) once the election (etcd's default 1 s
 * timeout) is over; plus 4 s for a loaded machine.
 */
const PUBLISH_BOUND_MS = PUBLISH_INTERVAL_MS + 2_000 + 1_000 + 4_000;

/** A write under the reservations prefix, as a test watcher on one surviving member saw it arrive. */
interface SeenWrite {
  at: number;
  key: string;
  value: string | null;
  revision: bigint;
}

/** Publish passes among `writes`: one pass writes its keys at once, and passes are an interval apart. */
function passes(writes: readonly SeenWrite[]): number {
  return writes.filter((w, i) => i === 0 || w.at - writes[i - 1].at > PUBLISH_INTERVAL_MS / 2).length;
}

/** Follows the reservations prefix on one member alone, recording every write as it arrives. */
function observeWrites(client: Etcd3): { writes: SeenWrite[]; close(): Promise<void> } {
  const writes: SeenWrite[] = [];
  const decoder = new TextDecoder();
  const record = (kv: IKeyValue, value: string | null) =>
    writes.push({ at: performance.now(), key: decoder.decode(kv.key), value, revision: BigInt(kv.mod_revision) });
  const watcher = client.watch().prefix(RESERVATIONS_PREFIX).watcher();
  watcher.on("put", (kv) => record(kv, decoder.decode(kv.value)));
  watcher.on("delete", (kv) => record(kv, null));
  watcher.on("error", () => {}); // noticed through missing writes, not here
  return { writes, close: () => watcher.cancel().catch(() => {}) };
}

/** A dashboard client: the reservations of every snapshot and `reservations` event on one SSE stream. */
interface SseWatcher {
  /** Each list as it arrived. */
  readonly seen: { at: number; rows: ReservationView[] }[];
  /** Set when the stream failed (ended, or the request did). */
  readonly failure: () => string | undefined;
  close(): Promise<void>;
}

async function watchReservations(url: string, headers: Record<string, string>): Promise<SseWatcher> {
  const reader = await openSse(url, headers);
  const seen: { at: number; rows: ReservationView[] }[] = [];
  let failure: string | undefined;
  let closing = false;
  const task = (async () => {
    while (!closing) {
      let frame;
      try {
        frame = await reader.next((f) => f.event === "snapshot" || f.event === "reservations", 1_000);
      } catch (error) {
        if (closing) return;
        const message = (error as Error).message;
        if (message.startsWith("no matching event within")) continue;
        failure = message;
        return;
      }
      const data = JSON.parse(frame.data ?? "null");
      const rows = frame.event === "snapshot" ? data?.reservations : data;
      if (Array.isArray(rows)) seen.push({ at: performance.now(), rows });
    }
  })();
  return {
    seen,
    failure: () => failure,
    async close() {
      closing = true;
      await reader.close();
      await task;
    },
  };
}

/** What etcd holds under the prefix, read through the whole cluster: the views by id, and the revision. */
async function publishedState(client: Etcd3): Promise<{ rows: ReservationView[]; revision: bigint }> {
  const response = await client.getAll().prefix(RESERVATIONS_PREFIX).exec();
  const decoder = new TextDecoder();
  const rows = response.kvs.map((kv) => JSON.parse(decoder.decode(kv.value)) as ReservationView);
  return { rows: rows.sort((a, b) => a.id.localeCompare(b.id)), revision: BigInt(response.header.revision) };
}

/** Watch streams each member serves now (its /metrics). */
async function watchStreams(cluster: EtcdCluster): Promise<Map<EtcdMember, number>> {
  const counts = new Map<EtcdMember, number>();
  for (const member of cluster.members.filter((m) => m.running)) {
    const text = await (await fetch(`${member.endpoint}/metrics`)).text();
    const match = /^etcd_debugging_mvcc_watch_stream_total (\d+)/m.exec(text);
    counts.set(member, match ? Number(match[1]) : NaN);
  }
  return counts;
}

/** Drover's JSON log, one entry per line. @throws on a line that is not one (Deno's report of an uncaught error). */
function logEntries(log: string): { level: string; msg: string }[] {
  return log.split("\n").filter(Boolean).map((line) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new Error(`a log line that is not Drover's JSON: ${line}`);
    }
  });
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

if (serviceAvailable(etcdRequirement)) {
  Deno.test({
    name: "etcd cluster: the leader SIGKILLed and restarted while reservations are published and watched over SSE",
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await using cluster = await startEtcdCluster();
      const dir = await Deno.makeTempDir({ prefix: "drover-etcd-cluster-test-" });
      const adminToken = `admin-${crypto.randomUUID()}`;
      const port = freePort();
      const drover = spawnWatched({
        args: START_ARGS,
        cwd: REPO,
        env: {
          ...Deno.env.toObject(),
          ETCD_ENDPOINTS: cluster.endpoints.join(","),
          DROVER_DATA_DIR: `${dir}/data`,
          DROVER_LISTEN: `127.0.0.1:${port}`,
          DROVER_ADMIN_TOKEN: adminToken,
          DROVER_DEMO: "false",
          DROVER_SIM_RESERVATIONS: String(RESERVATIONS),
          DROVER_MAX_DEVICES: String(RESERVATIONS),
          DROVER_DEVICE_CREATION_RATE: `${CREATION_INTERVAL},1`,
          DROVER_LOG_FORMAT: "json",
        },
        readyWhen: (stdout) => stdout.includes("Drover is running") || undefined,
        what: "Drover",
      });
      let exitedEarly: Deno.CommandStatus | undefined;
      drover.child.status.then((status) => exitedEarly ??= status);
      const testClient = cluster.client();
      const watchers: SseWatcher[] = [];
      let observer: ReturnType<typeof observeWrites> | undefined;
      try {
        await within(drover.ready, 90_000, "Drover's start");
        const base = `http://127.0.0.1:${port}`;
        const auth = { authorization: `Bearer ${adminToken}` };
        for (let i = 0; i < SSE_WATCHERS; i++) watchers.push(await watchReservations(`${base}/api/v1/events`, auth));

        const leader = await cluster.leader();
        const survivor = cluster.members.find((m) => m !== leader)!;
        observer = observeWrites(survivor.client());
        const writes = observer.writes;

        // Publishing under way: every reservation in etcd, some with devices, and every watcher shows them.
        await waitFor(async () => {
          const { rows } = await publishedState(testClient);
          return rows.length === RESERVATIONS && rows.filter((r) => r.deviceId).length >= 3 &&
            watchers.every((w) => w.seen.at(-1)?.rows.length === RESERVATIONS);
        }, { timeoutMs: 60_000, intervalMs: 100, what: "reservations published with devices and seen over SSE" });
        const streams = await watchStreams(cluster);
        // The test's own watch is on `survivor`; Drover's one watch stream is the other one counted.
        const droverStreamOn = [...streams].find(([m, n]) => n - (m === survivor ? 1 : 0) > 0)?.[0];
        console.log(
          `Drover's reservations watch stream was on ${droverStreamOn?.name ?? "?"}; the leader is ${leader.name}`,
        );

        // Aim the kill at the publisher's next pass: it starts about 0.5 s after the kill, in the election
        // (passes are an interval apart from the end of one, when its writes land, to the start of the next).
        const checkedAt = performance.now();
        const passEnd = await waitFor(() => writes.find((w) => w.at > checkedAt), {
          timeoutMs: PUBLISH_BOUND_MS,
          what: "the next publish pass",
        });
        await sleep(Math.max(0, passEnd.at + PUBLISH_INTERVAL_MS - 500 - performance.now()));
        const killedAt = performance.now();
        await leader.kill();
        const firstWrite = await waitFor(() => writes.find((w) => w.at > killedAt), {
          timeoutMs: PUBLISH_BOUND_MS + 5_000,
          intervalMs: 20,
          what: "a reservation written to etcd after the leader's kill",
        });
        const publishMs = firstWrite.at - killedAt;
        // Every watcher shows that write: its key holds that value (or is gone, for a delete).
        const id = firstWrite.key.slice(RESERVATIONS_PREFIX.length);
        const shows = (w: SseWatcher) =>
          w.seen.find((s) => {
            if (s.at < firstWrite.at) return false;
            const row = s.rows.find((r) => r.id === id);
            return firstWrite.value === null ? !row : row !== undefined && JSON.stringify(row) === firstWrite.value;
          });
        const shown = await waitFor(() => watchers.every(shows) && watchers.map((w) => shows(w)!.at), {
          timeoutMs: 20_000,
          intervalMs: 20,
          what: "every SSE watcher showing the first write after the kill",
        });
        const sseMs = Math.max(...shown) - killedAt;
        const publishWarnings = () => logEntries(drover.log()).filter((e) => e.msg.includes("publish reservations"));
        console.log(
          `leader ${leader.name} killed: next publish in etcd after ${seconds(publishMs)} (bound ${
            seconds(PUBLISH_BOUND_MS)
          }), shown by all ${SSE_WATCHERS} SSE watchers after ${
            seconds(sseMs)
          }; ${publishWarnings().length} failed passes`,
        );
        assert.ok(publishMs <= PUBLISH_BOUND_MS, `next publish ${seconds(publishMs)} after the kill`);

        // Publishing goes on without it, two passes at least: the leader misses writes it must catch up on.
        await waitFor(() => passes(writes.filter((w) => w.at > killedAt)) >= 2, {
          timeoutMs: 3 * PUBLISH_BOUND_MS,
          intervalMs: 50,
          what: "two publish passes after the kill",
        });
        const missed = writes.filter((w) => w.at > killedAt);
        const restartedAt = performance.now();
        await leader.restart();
        const rejoinedMs = performance.now() - restartedAt;

        // The final state: every reservation has its device; every SSE watcher ends on exactly it.
        const final = await waitFor(async () => {
          const state = await publishedState(testClient);
          return state.rows.length === RESERVATIONS && state.rows.every((r) => r.deviceId) && state;
        }, { timeoutMs: 120_000, intervalMs: 200, what: `all ${RESERVATIONS} reservations published with a device` });
        for (const [i, watcher] of watchers.entries()) {
          await waitFor(() => JSON.stringify(watcher.seen.at(-1)?.rows) === JSON.stringify(final.rows), {
            timeoutMs: 15_000,
            intervalMs: 50,
            what: `SSE watcher ${i} ending on what etcd holds`,
          }).catch(() => {
            assert.deepEqual(watcher.seen.at(-1)?.rows, final.rows, `SSE watcher ${i}'s last value is etcd's`);
          });
          assert.equal(watcher.failure(), undefined, `SSE watcher ${i}'s stream`);
        }

        // The returning member caught up: its own local (serializable) read equals the cluster's.
        const alone = leader.client();
        const caughtUp = await waitFor(async () => {
          const local = await alone.getAll().prefix(RESERVATIONS_PREFIX).serializable(true).exec().catch(() => null);
          if (!local) return false;
          const revision = BigInt(local.header.revision);
          const rows = local.kvs.map((kv) => JSON.parse(new TextDecoder().decode(kv.value)) as ReservationView);
          rows.sort((a, b) => a.id.localeCompare(b.id));
          return revision >= final.revision && { revision, rows };
        }, { timeoutMs: 20_000, intervalMs: 50, what: `${leader.name} serving the cluster's revision on its own` });
        const now = await publishedState(testClient);
        assert.equal(caughtUp.revision, now.revision, `${leader.name}'s revision is the cluster's`);
        assert.deepEqual(caughtUp.rows, now.rows, `${leader.name}'s values are the cluster's`);
        console.log(
          `${leader.name} restarted on its data: healthy after ${
            seconds(rejoinedMs)
          }, at revision ${caughtUp.revision} ` +
            `(${missed.length} writes made while it was down) with the cluster's ${RESERVATIONS} values`,
        );

        // Nothing crashed: Drover still runs, logged no error, and stops cleanly.
        assert.equal(exitedEarly, undefined, `Drover exited; its log ends:\n${drover.log().slice(-3000)}`);
        const entries = logEntries(drover.log()); // throws on a line that is not Drover's (an uncaught error)
        assert.deepEqual(entries.filter((e) => e.level === "error"), [], "no error logged");
        const status = await drover.stop();
        assert.equal(status.code, 0, `Drover's exit after SIGTERM; its log ends:\n${drover.log().slice(-3000)}`);
        const failedPasses = publishWarnings();
        console.log(`failed publish passes in all: ${failedPasses.length}`);
        for (const entry of failedPasses.slice(0, 3)) console.log(`  ${JSON.stringify(entry).slice(0, 300)}`);
      } catch (error) {
        console.error(`Drover's log ends:\n${drover.log().slice(-4000)}\n${await cluster.logs(15)}`);
        throw error;
      } finally {
        await observer?.close();
        for (const watcher of watchers) await watcher.close();
        await drover.stop();
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  });
}
