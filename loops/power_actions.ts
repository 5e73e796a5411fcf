/**
 * Operators' power actions (on, off, restart) on machines with a BMC, as
 * work: the machine is claimed for {@linkcode Process.PowerAction} (so the
 * shepherd's agent start and recovery keep off it, and an action already
 * under way is not sent twice), the BMC carries the action out in the
 * background, and the finish records, in one transaction:
 *
 * - the power state seen and the status it means;
 * - whether an operator holds the machine off (after "off": the loops leave
 *   it alone, and the recoverer does not power it back on, until an operator
 *   powers it on; "on" and "restart" release it);
 * - the agent's tags cleared when anything was sent (the agent died with the
 *   power: the initializer starts a fresh one once the machine runs);
 * - history: PoweredOn, PoweredOff or Restarted with the actor and the
 *   ResetTypes actually sent.
 *
 * A failure is Failed with the cause (who asked, what the BMC said) and a
 * short backoff; an operator's cancel aborts the BMC's wait.
 *
 * @module
 */
import {
  type Bmdb,
  HistoryEvent,
  type Logger,
  type MachineProvided,
  NothingToDoError,
  Process,
  type Provider,
  type Session,
  SessionExpiredError,
  type Work,
  WorkConflictError,
} from "../bmdb/mod.ts";
import {
  type MachineProvider,
  NoPowerControlError,
  type PowerAction,
  type PowerControl,
  type PowerOutcome,
} from "./provider.ts";

/** A power action was refused before anything was sent; `status` is the HTTP status that says why. */
export class PowerActionRefusedError extends Error {
  constructor(readonly status: 404 | 409 | 422 | 502, message: string) {
    super(message);
    this.name = "PowerActionRefusedError";
  }
}

const EVENT_OF = {
  on: HistoryEvent.PoweredOn,
  off: HistoryEvent.PoweredOff,
  restart: HistoryEvent.Restarted,
} as const satisfies Record<PowerAction, HistoryEvent>;

/** A failed action is not retried by anyone: the backoff only shows it on the dashboard for a while. */
const SHOWN_FAILED = { initialSeconds: 60, maximumSeconds: 60, exponent: 1 };

/** What was accepted. */
export interface PowerActionAccepted {
  machineId: string;
  action: PowerAction;
  /** Settles when the BMC carried it out (resolves) or it failed (resolves with the error: it is recorded). */
  done: Promise<PowerOutcome | Error>;
}

export interface PowerActionsOptions {
  bmdb: Bmdb;
  /** The providers of the control plane; those with `power` take actions. */
  providers: readonly MachineProvider[];
  logger: Logger;
}

/** "sent GracefulShutdown, then ForceOff; PowerState Off" for history. */
function describeOutcome(outcome: PowerOutcome): string {
  const sent = outcome.sent.length > 0 ? `sent ${outcome.sent.join(", then ")}` : "nothing sent: it was there already";
  return `${sent}; PowerState ${outcome.powerState}`;
}

/** Operators' power actions (see the module comment). */
export class PowerActions {
  readonly #bmdb: Bmdb;
  readonly #power: ReadonlyMap<Provider, PowerControl>;
  readonly #logger: Logger;
  #session: Promise<Session> | undefined;
  readonly #running = new Set<Promise<unknown>>();
  #closed = false;

  constructor(options: PowerActionsOptions) {
    this.#bmdb = options.bmdb;
    this.#power = new Map(options.providers.flatMap((p) => p.power ? [[p.provider, p.power] as const] : []));
    this.#logger = options.logger;
  }

  /** Whether any provider has power control (else the dashboard offers no power buttons). */
  get available(): boolean {
    return this.#power.size > 0;
  }

  async #machine(machineId: string): Promise<{ machine: MachineProvided; power: PowerControl }> {
    const row = await this.#bmdb.read((q) => q.getMachine({ machineId }));
    if (!row) throw new PowerActionRefusedError(404, `machine ${machineId} is not known`);
    if (!row.provider || !row.providerId) {
      throw new PowerActionRefusedError(422, `machine ${machineId} has no provider: nothing can power it`);
    }
    const power = this.#power.get(row.provider);
    if (!power) {
      throw new PowerActionRefusedError(
        422,
        `machine ${machineId} is an ${row.provider} machine: that provider has no power control`,
      );
    }
    if (!row.providerBmc) {
      throw new PowerActionRefusedError(422, `machine ${machineId} (${row.providerId}) has no BMC in the inventory`);
    }
    const machine: MachineProvided = {
      machineId,
      provider: row.provider,
      providerId: row.providerId,
      providerReservationId: row.providerReservationId,
      providerIpAddress: row.providerIpAddress,
      providerLocation: row.providerLocation,
      providerStatus: row.providerStatus,
      providerBmc: row.providerBmc,
      providerHeldOffAt: row.providerHeldOffAt,
    };
    return { machine, power };
  }

  /**
   * What `action` would send, for the operator's confirmation (read off the BMC).
   * @throws {PowerActionRefusedError} as `request`, and 502 when the BMC cannot be read (its error in the message)
   */
  async describe(machineId: string, action: PowerAction, signal?: AbortSignal): Promise<string> {
    const { machine, power } = await this.#machine(machineId);
    try {
      return await power.describe(machine, action, { signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      if (error instanceof NoPowerControlError) throw new PowerActionRefusedError(422, error.message);
      throw new PowerActionRefusedError(502, `the BMC could not be read: ${(error as Error).message ?? error}`);
    }
  }

  async #liveSession(): Promise<Session> {
    const current = await this.#session?.catch(() => undefined);
    if (current && !current.signal.aborted) return current;
    this.#session = this.#bmdb.startSession({ runtimeInfo: "power actions" });
    return await this.#session;
  }

  /**
   * Claims the machine for the action and starts it; resolves once claimed.
   * @throws {PowerActionRefusedError} unknown machine (404), work under way on it (409), no power control (422)
   */
  async request(params: { machineId: string; action: PowerAction; actor: string }): Promise<PowerActionAccepted> {
    if (this.#closed) throw new Error("power actions are stopping");
    const { machineId, action, actor } = params;
    const { machine, power } = await this.#machine(machineId);
    let work: Work<undefined>;
    for (let attempt = 0;; attempt++) {
      const session = await this.#liveSession();
      try {
        work = await session.work(Process.PowerAction, () => Promise.resolve([machineId]));
        break;
      } catch (error) {
        if (error instanceof SessionExpiredError && attempt === 0) continue;
        if (error instanceof WorkConflictError || error instanceof NothingToDoError) {
          throw new PowerActionRefusedError(
            409,
            `machine ${machineId} is being worked on (an agent start, a recovery or another power action): ` +
              `wait for it, or cancel it, first`,
          );
        }
        throw error;
      }
    }
    const done = this.#carryOut(work, machine, power, action, actor);
    this.#running.add(done);
    done.finally(() => this.#running.delete(done));
    return { machineId, action, done };
  }

  async #carryOut(
    work: Work<undefined>,
    machine: MachineProvided,
    power: PowerControl,
    action: PowerAction,
    actor: string,
  ): Promise<PowerOutcome | Error> {
    const { machineId } = machine;
    try {
      const outcome = await power.act(machine, action, { signal: work.signal });
      await work.finish((q) => [
        q.machineSetPower({
          machineId,
          providerStatus: outcome.status,
          providerPowerState: outcome.powerState,
          heldOffBy: action === "off" ? actor : null,
        }),
        ...(outcome.sent.length > 0
          ? [q.machineDeleteAgentStarted({ machineId }), q.machineDeleteAgentHeartbeat({ machineId })]
          : []),
        q.recordOperatorAction({
          machineId,
          process: Process.PowerAction,
          event: EVENT_OF[action],
          actor,
          detail: describeOutcome(outcome),
        }),
      ]);
      this.#logger.info("power action done", { machineId, process: Process.PowerAction, action, actor });
      return outcome;
    } catch (error) {
      const cause = `power ${action} requested by ${actor} failed: ${(error as Error).message ?? String(error)}`;
      this.#logger.warn("power action failed", { machineId, process: Process.PowerAction, action, error });
      // After an operator's cancel, fail() records Canceled (the BMDB's rule); after a shutdown too.
      await work.fail(SHOWN_FAILED, cause).catch((e) =>
        this.#logger.warn("could not record a failed power action", { machineId, error: e })
      );
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Stops: running actions are released (Canceled) when the session closes. */
  async close(): Promise<void> {
    this.#closed = true;
    const session = await this.#session?.catch(() => undefined);
    await session?.close();
    await Promise.allSettled([...this.#running]);
  }
}
