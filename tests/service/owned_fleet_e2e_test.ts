/**
 * Machines you own, end to end, as an operator runs Drover: the whole
 * service (`startService`) with `DROVER_INVENTORY` naming machines that are
 * real OpenSSH servers on loopback (one sshd per machine), their BMCs on the
 * Redfish simulator, `DROVER_SSH_KEY` and the real agent bundle.
 *
 * - every machine is adopted, the agent uploaded and started over SSH, its
 *   host key recorded on first use (or checked against the pinned one), and
 *   it heartbeats;
 * - an operator restarts a machine from the dashboard in Chromium: the agent
 *   dies with the power and a fresh one comes back;
 * - a machine powered off behind Drover's back is powered on again and its
 *   agent comes back;
 * - a reload of the inventory file adds one machine and removes another
 *   (Missing, left alone); a bad reload changes nothing and is shown.
 *
 * The simulated BMC's power is tied to the real agent: when a system powers
 * off or restarts, the agent process started on that "machine" is killed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Provider } from "../../bmdb/mod.ts";
import { readConfig } from "../../server/config.ts";
import { startService } from "../../server/service.ts";
import { uiRoutes } from "../../server/ui_routes.ts";
import { type BmcSimulator, type SimulatedSystem, startBmcSimulator } from "../../redfish/simulator/mod.ts";
import { bmdbTest } from "../harness/bmdb.ts";
import { chromiumRequirement, launchBrowser } from "../harness/browser.ts";
import { freePort } from "../harness/free_port.ts";
import { quietLogger } from "../harness/quiet_logger.ts";
import { serviceAvailable } from "../harness/requirements.ts";
import { sshdRequirement, type SshServer, startSshd } from "../harness/sshd.ts";
import { aborted, waitFor } from "../harness/wait.ts";
import { builtUi } from "../ui/ui_assets.ts";
import type { MachinePage, MachineView } from "../../ui/wire.ts";

const CREDENTIALS_PASSWORD = "e2e-bmc-password";

/** One owned machine: an sshd to reach its OS, a BMC, and the agent's files in the sshd's directory. */
interface Machine {
  id: string;
  sshd: SshServer;
  bmc: BmcSimulator;
  system: SimulatedSystem;
  agentPath: string;
}

async function bundleAgent(dir: string): Promise<string> {
  const path = `${dir}/drover-agent.js`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "--quiet", "-o", path, "agent/main.ts"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return path;
}

/** Kills the agent started on `machine`, if one runs (its pid file is next to it). */
async function killAgent(machine: Machine): Promise<void> {
  const pid = await Deno.readTextFile(`${machine.sshd.dir}/drover-agent.pid`).catch(() => "");
  if (!/^\d+\s*$/.test(pid)) return;
  try {
    Deno.kill(Number(pid), "SIGKILL");
  } catch {
    // gone already
  }
}

/** Until `stop` aborts: whenever the machine loses power (off, or a restart), its agent dies. */
async function tiePowerToAgent(machine: Machine, stop: AbortSignal): Promise<void> {
  while (!stop.aborted) {
    if (!machine.system.running) {
      await waitFor(() => machine.system.running || stop.aborted, { timeoutMs: 600_000, what: "power" });
      continue;
    }
    await machine.system.run((power) => aborted(AbortSignal.any([power, stop]))).catch(() => {});
    if (!stop.aborted) await killAgent(machine);
  }
}

function inventoryYaml(machines: Machine[], pinned: Set<string>): string {
  return "machines:\n" + machines.map((m) =>
    [
      `  - id: ${m.id}`,
      `    ssh: ${m.sshd.username}@127.0.0.1:${m.sshd.port}`,
      `    location: lab-r1`,
      `    agentPath: ${m.agentPath}`,
      ...(pinned.has(m.id) ? [`    hostKey: ${m.sshd.hostPublicKey}`] : []),
      `    bmc:`,
      `      url: ${m.bmc.url}`,
      `      system: ${m.system.path}`,
      `      credentials: lab`,
      `      tls: insecure`,
    ].join("\n")
  ).join("\n") + "\n";
}

/** Replaces a file the way editors and config management do: a new file renamed over the old. */
async function replaceFile(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.new`, text);
  await Deno.rename(`${path}.new`, path);
}

const enabled = serviceAvailable(sshdRequirement) && serviceAvailable(chromiumRequirement);

if (enabled) {
  bmdbTest(
    "machines you own: adopted, agents over SSH, a restart from the dashboard, a power loss recovered, reloads",
    async (t) => {
      const dir = await Deno.makeTempDir({ prefix: "drover-owned-e2e-" });
      const stopPower = new AbortController();
      const machines: Machine[] = [];
      const ties: Promise<void>[] = [];
      let service: Awaited<ReturnType<typeof startService>> | undefined;
      try {
        const agentBundle = await bundleAgent(dir);
        const start = async (id: string, systemOptions: Parameters<typeof startBmcSimulator>[0]) => {
          const sshd = await startSshd(machines[0] ? { sameClientKeyAs: machines[0].sshd } : {});
          const bmc = await startBmcSimulator({ username: "admin", password: CREDENTIALS_PASSWORD, ...systemOptions });
          const m = { id, sshd, bmc, system: bmc.systems[0], agentPath: `${sshd.dir}/drover-agent.js` };
          machines.push(m);
          ties.push(tiePowerToAgent(m, stopPower.signal));
          return m;
        };
        const m1 = await start("lab-n1", { systems: [{ transitionMs: 300 }] });
        // Like Dell's iDRAC 9: no GracefulRestart.
        const m2 = await start("lab-n2", {
          systems: [{ transitionMs: 300, resetTypes: ["On", "ForceOff", "ForceRestart", "PowerCycle"] }],
        });

        const inventoryPath = `${dir}/inventory.yaml`;
        const credentialsPath = `${dir}/bmc-credentials.yaml`;
        await Deno.writeTextFile(inventoryPath, inventoryYaml([m1, m2], new Set([m2.id])));
        await Deno.writeTextFile(
          credentialsPath,
          `lab: { username: admin, password: ${CREDENTIALS_PASSWORD} }\n`,
          { mode: 0o600 },
        );
        await Deno.chmod(credentialsPath, 0o600);
        const port = freePort();
        const adminToken = `admin-${crypto.randomUUID()}`;
        const config = readConfig({
          DROVER_LISTEN: `127.0.0.1:${port}`,
          DROVER_ADMIN_TOKEN: adminToken,
          DROVER_DATA_DIR: `${dir}/data`,
          ...(t.url ? { DATABASE_URL: t.url } : {}),
          DROVER_INVENTORY: inventoryPath,
          DROVER_BMC_CREDENTIALS: credentialsPath,
          DROVER_SSH_KEY: `${m1.sshd.dir}/client_ed25519`,
          DROVER_AGENT_PATH: agentBundle,
          DROVER_AGENT_HEARTBEAT_INTERVAL: "1s",
          DROVER_PROVISIONER_INTERVAL: "500ms",
          DROVER_UPDATER_INTERVAL: "300ms",
          DROVER_BMC_GRACEFUL_TIMEOUT: "5s",
          DROVER_LOG_LEVEL: "error",
        }, []);
        assert.ok(config !== "help");
        service = await startService(config, { logger: quietLogger, ui: builtUi().then(uiRoutes) });
        const url = service.url;
        const api = async <T>(path: string): Promise<T> => {
          const response = await fetch(`${url}/api/v1/${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
          assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
          return await response.json() as T;
        };
        const byId = async () => {
          const page = await api<MachinePage>(`machines?provider=${Provider.Inventory}&limit=100`);
          return Object.fromEntries(page.rows.map((m) => [m.providerId!, m]));
        };
        const heartbeatingSince = (id: string, since: string | null) =>
          waitFor(async () => {
            const m = (await byId())[id];
            const fresh = m?.agentStartedAt && (!since || m.agentStartedAt > since) && m.agentHeartbeatAt &&
              m.agentHeartbeatAt >= m.agentStartedAt;
            return fresh ? m : undefined;
          }, { timeoutMs: 60_000, what: `a fresh agent heartbeating on ${id}` });

        // Adopted, agents started over SSH, heartbeating.
        const first1 = await heartbeatingSince(m1.id, null);
        const first2 = await heartbeatingSince(m2.id, null);
        assert.equal(first1.providerLocation, "lab-r1");
        assert.equal(first1.providerBmc, `${m1.bmc.url}${m1.system.path}`);
        const detail1 = await api<MachineView>(`machines/${first1.machineId}`);
        assert.equal(detail1.machine.sshHostKey?.key, m1.sshd.hostPublicKey.split(" ").slice(0, 2).join(" "));
        const detail2 = await api<MachineView>(`machines/${first2.machineId}`);
        assert.equal(detail2.machine.sshHostKey, null, "a pinned key is checked, not recorded");

        // An operator restarts lab-n1 from the dashboard.
        await using browser = await launchBrowser();
        const page = await browser.newPage();
        await page.goto(`${url}/machines/${first1.machineId}?token=${adminToken}`);
        await page.getByRole("button", { name: "Restart", exact: true }).click();
        const dialog = page.getByRole("dialog", { name: "Restart this machine?" });
        // The confirmation names what will be sent, read off the BMC.
        await dialog.getByText(/GracefulRestart/).waitFor();
        await dialog.getByRole("button", { name: "Yes, restart" }).click();
        const restarted1 = await heartbeatingSince(m1.id, first1.agentStartedAt);
        assert.deepEqual(m1.system.resets.map((r) => r.resetType), ["GracefulRestart"]);
        const timeline = (await api<MachineView>(`machines/${restarted1.machineId}`)).timeline;
        const entry = timeline.find((e) => e.event === "Restarted");
        assert.equal(entry?.actor, "admin");
        assert.match(entry?.detail ?? "", /^sent GracefulRestart; PowerState On$/);
        await page.getByText("Restarted").first().waitFor();
        assert.deepEqual(browser.problems(page), []);

        // lab-n2 loses power behind Drover's back: powered on again, a fresh agent.
        m2.system.setPower("Off");
        await heartbeatingSince(m2.id, first2.agentStartedAt);
        assert.deepEqual(m2.system.resets.map((r) => r.resetType), ["On"]);

        // A reload adds lab-n3 and removes lab-n2.
        const m3 = await start("lab-n3", { systems: [{ transitionMs: 300 }] });
        await replaceFile(inventoryPath, inventoryYaml([m1, m3], new Set()));
        await heartbeatingSince(m3.id, null);
        const afterReload = await waitFor(async () => {
          const all = await byId();
          return all[m2.id]?.providerStatus === "Missing" && all;
        }, { what: "lab-n2 Missing" });
        assert.equal(afterReload[m1.id].providerStatus, "Running");

        // A bad reload changes nothing and is shown.
        await replaceFile(inventoryPath, "machines:\n  - id: lab-n1\n    ssh: root@\n");
        const shown = await waitFor(async () => {
          const { status } = await api<{ status: { problem: string | null; machines: number } }>("inventory");
          return status.problem ? status : undefined;
        }, { what: "the reload's problem shown" });
        assert.match(shown.problem!, /inventory\.yaml:3:\d+: machines\[0\]\.ssh: /);
        assert.equal(shown.machines, 2, "the last good inventory keeps running");
        const still = await byId();
        assert.equal(still[m3.id].providerStatus, "Running");
        assert.equal(still[m1.id].providerStatus, "Running");
      } finally {
        stopPower.abort();
        await service?.stop();
        await Promise.allSettled(ties);
        for (const m of machines) {
          await killAgent(m);
          await m.bmc.close();
          await m.sshd.stop();
        }
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  );
}
