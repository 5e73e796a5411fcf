/**
 * The embedded demo: with nothing configured, the in-process Metal API
 * simulator and its simulated agents behave like a real fleet on a bad day,
 * on a schedule a person can watch, so the dashboard has something to show
 * and to act on (`DROVER_DEMO=false` turns it off; any real provider does).
 *
 * By reservation, oldest first (the embedded simulator has 8):
 *
 * | # | provisioning | then                                                                   |
 * | - | ------------ | ---------------------------------------------------------------------- |
 * | 0 | 12 s         | its first agent start hangs for a minute: there to **Cancel**           |
 * | 1 | 15 s         | its agent start fails 3 times before it works: backoffs to **Retry**   |
 * | 2 | 20 s         | its agent goes quiet 90 s after it started: the recoverer brings it back |
 * | 3 | 25 s         | —                                                                      |
 * | 4 | 30 s         | its agent start fails twice before it works                            |
 * | 5 | 35 s         | —                                                                      |
 * | 6 | 20 s         | its provisioning fails (ProvisioningFailedPermanent)                   |
 * | 7 | 40 s         | —                                                                      |
 *
 * and after that, every 3 minutes, the agent of one more machine goes quiet
 * (round robin), so a recovery shows up now and then. Further reservations
 * repeat the pattern. Every failure's cause says it is the demo.
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger, MachineProvided } from "../bmdb/mod.ts";
import type { DeviceProfile, SimulatedFleet } from "../equinix/simulator/mod.ts";
import type { AgentStarter, SimulatedAgentStarter, StartedAgent } from "../loops/mod.ts";
import type { TakeoverInit } from "../agent/mod.ts";

/** What the start banner and the Overview say. */
export const DEMO_DESCRIPTION = "demo fleet: simulated machines misbehave on purpose (a hung agent start to cancel, " +
  "failing starts to retry, agents that go quiet, a failed provisioning); DROVER_DEMO=false turns it off";

/** What happens to the machine on the reservation of this index. */
interface Part {
  provisioningMs: number;
  failProvisioning?: boolean;
  /** The first agent start hangs this long (an operator's cancel ends it). */
  hangMs?: number;
  /** Agent starts that fail before one works. */
  failures?: string[];
  /** The agent goes quiet this long after its first start. */
  quietAfterMs?: number;
}

const PARTS: readonly Part[] = [
  { provisioningMs: 12_000, hangMs: 60_000 },
  {
    provisioningMs: 15_000,
    failures: [
      "dial: connection refused (demo: sshd is not up yet)",
      "dial: handshake did not finish within 10000 ms (demo: the machine is still booting)",
      "run: agent exited with status 1: cannot reach the agent API: connection refused (demo)",
    ],
  },
  { provisioningMs: 20_000, quietAfterMs: 90_000 },
  { provisioningMs: 25_000 },
  {
    provisioningMs: 30_000,
    failures: [
      "upload: sftp: no space left on device (demo: /root is full)",
      "upload: sftp: no space left on device (demo: /root is full)",
    ],
  },
  { provisioningMs: 35_000 },
  { provisioningMs: 20_000, failProvisioning: true },
  { provisioningMs: 40_000 },
];

/** How often one more agent goes quiet. */
const QUIET_EVERY_MS = 180_000;

function partOf(index: number): Part {
  return PARTS[index % PARTS.length];
}

/** The demo's provisioning, for the simulator. */
export const demoDeviceProfile: DeviceProfile = ({ reservationIndex }) => {
  const part = partOf(reservationIndex);
  return { provisioningMs: part.provisioningMs, failProvisioning: part.failProvisioning };
};

/** The demo's agent starter: the simulated one, with the demo's hangs and failures in front. */
class DemoAgentStarter implements AgentStarter {
  readonly kind = "simulated";
  readonly #inner: SimulatedAgentStarter;
  readonly #fleet: SimulatedFleet;
  readonly #attempts = new Map<string, number>();
  readonly #quiet: (machineId: string, afterMs: number) => void;

  constructor(
    inner: SimulatedAgentStarter,
    fleet: SimulatedFleet,
    quiet: (machineId: string, afterMs: number) => void,
  ) {
    this.#inner = inner;
    this.#fleet = fleet;
    this.#quiet = quiet;
  }

  async start(machine: MachineProvided, init: TakeoverInit, signal: AbortSignal): Promise<StartedAgent> {
    const index = this.#fleet.reservations().findIndex((r) => r.id === machine.providerReservationId);
    const part = index < 0 ? {} as Partial<Part> : partOf(index);
    const attempt = (this.#attempts.get(machine.machineId) ?? 0) + 1;
    this.#attempts.set(machine.machineId, attempt);
    const target = `ssh root@${machine.providerIpAddress ?? "?"}:22`;
    if (part.hangMs && attempt === 1) {
      await sleep(part.hangMs, undefined, { signal });
      throw new Error(`${target}: run: the agent did not reply within ${part.hangMs} ms (demo: a hung start)`);
    }
    const failure = part.failures?.[attempt - 1 - (part.hangMs ? 1 : 0)];
    if (failure) {
      // As long as a real failure takes: a dial that times out, an upload that runs out of space.
      await sleep(1500, undefined, { signal });
      throw new Error(`${target}: ${failure}`);
    }
    const started = await this.#inner.start(machine, init, signal);
    if (part.quietAfterMs && attempt === 1 + (part.failures?.length ?? 0)) {
      this.#quiet(machine.machineId, part.quietAfterMs);
    }
    return started;
  }
}

/** The demo running: its starter, and its schedule of agents going quiet. */
export interface DemoFleet {
  readonly starter: AgentStarter;
  close(): void;
}

/** Starts the demo's schedule over the embedded simulator's agents. */
export function startDemoFleet(options: {
  fleet: SimulatedFleet;
  agents: SimulatedAgentStarter;
  logger: Logger;
}): DemoFleet {
  const { agents, logger } = options;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const goQuiet = (machineId: string) => {
    agents.stopAgent(machineId).then((stopped) => {
      if (stopped) logger.info("demo: an agent went quiet (the recoverer will bring the machine back)", { machineId });
    }, () => {});
  };
  const quietAfter = (machineId: string, afterMs: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      goQuiet(machineId);
    }, afterMs);
    timers.add(timer);
  };
  let next = 0;
  const now = setInterval(() => {
    const running = agents.running.sort();
    if (running.length === 0) return;
    goQuiet(running[next++ % running.length]);
  }, QUIET_EVERY_MS);
  return {
    starter: new DemoAgentStarter(agents, options.fleet, quietAfter),
    close() {
      clearInterval(now);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
