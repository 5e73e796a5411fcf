/**
 * Production mode, as separate processes: `deno task start` on a real
 * PostgreSQL, a real etcd and a standalone `deno task sim` whose machines run
 * the agents (DROVER_SIM_AGENTS). Every reservation becomes a machine whose
 * agent heartbeats; reservations reach the dashboard's API through etcd;
 * SIGTERM leaves no live session.
 *
 * @module
 */
import assert from "node:assert/strict";
import { bmdbTest } from "../harness/bmdb.ts";
import { etcdRequirement, startEtcd } from "../harness/etcd.ts";
import { freePort } from "../harness/free_port.ts";
import { startSimProcess } from "../harness/sim_process.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { waitFor, within } from "../harness/wait.ts";

const REPO = new URL("../../", import.meta.url).pathname;
const RESERVATIONS = 6;

if (serviceAvailable(etcdRequirement)) {
  bmdbTest("production mode: PostgreSQL, etcd and a standalone simulator; every machine heartbeats", async (t) => {
    await using etcd = await startEtcd();
    await using sim = await startSimProcess(["--reservations", String(RESERVATIONS)]);
    const dir = await Deno.makeTempDir({ prefix: "drover-production-" });
    const port = freePort();
    const adminToken = `admin-${crypto.randomUUID()}`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", "start"],
      cwd: REPO,
      env: {
        ...sim.settings,
        DATABASE_URL: t.url!,
        ETCD_ENDPOINTS: etcd.endpoint,
        DROVER_SIM_AGENTS: "true",
        DROVER_ADMIN_TOKEN: adminToken,
        DROVER_DATA_DIR: `${dir}/data`,
        DROVER_LISTEN: `127.0.0.1:${port}`,
        DROVER_MAX_DEVICES: String(RESERVATIONS),
        DROVER_DEVICE_CREATION_RATE: "10ms,10",
        DROVER_DB_RATE: "20ms,8",
        DROVER_PROVISIONER_INTERVAL: "500ms",
        DROVER_UPDATER_INTERVAL: "500ms",
        EQUINIX_API_RATE: "0ms",
        DROVER_LOG_FORMAT: "json",
      },
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let log = "";
    const logged = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
    })();
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${adminToken}` };
    try {
      await waitFor(async () => {
        const response = await fetch(`${base}/api/v1/machines?limit=50`, { headers: auth }).catch(() => undefined);
        if (!response?.ok) return false;
        const { rows } = await response.json() as { rows: { agentHeartbeatAt: string | null }[] };
        return rows.filter((m) => m.agentHeartbeatAt !== null).length === RESERVATIONS;
      }, { timeoutMs: 90_000, intervalMs: 250, what: `${RESERVATIONS} machines heartbeating` });

      const reservations = await waitFor(async () => {
        const { rows } = await (await fetch(`${base}/api/v1/reservations`, { headers: auth })).json() as {
          rows: { deviceId: string | null }[];
        };
        return rows.length === RESERVATIONS && rows;
      }, { timeoutMs: 30_000, what: "the reservations, through etcd" });
      assert.equal(reservations.length, RESERVATIONS);
      assert.ok((await etcd.client().getAll().prefix("/drover/reservations/").keys()).length === RESERVATIONS);
      for (const line of log.split("\n").filter(Boolean)) JSON.parse(line); // every log line is one JSON object

      child.kill("SIGTERM");
      const status = await within(child.status, 10_000, "exit after SIGTERM");
      assert.equal(status.code, 0, log);
      const [live] = await t.sql("SELECT count(*)::int AS n FROM sessions WHERE session_deadline > now()");
      assert.equal(live.n, 0, "no live session left behind");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await child.status;
      await logged;
      await Deno.remove(dir, { recursive: true });
    }
  }, { drivers: ["postgres"] });
}
