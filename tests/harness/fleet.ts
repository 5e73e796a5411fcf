/**
 * Small fixtures for BMDB tests: sessions that close themselves, machines,
 * and the retrieve and finish functions most tests use.
 *
 * @module
 */
import {
  type Bmdb,
  Provider,
  ProviderStatus,
  type Queries,
  type Session,
  type StartSessionOptions,
} from "../../bmdb/mod.ts";

/** Starts a session that `cleanup` closes. */
export async function openSession(bmdb: Bmdb, cleanup: AsyncDisposableStack, options?: StartSessionOptions) {
  const session = await bmdb.startSession(options);
  cleanup.defer(() => session.close());
  return session;
}

/** Creates `n` machines provided by Equinix and returns their ids. */
export async function addMachines(session: Session, n: number): Promise<string[]> {
  return await session.transact(async (q) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { machineId } = await q.newMachine();
      await q.machineAddProvided({
        machineId,
        provider: Provider.Equinix,
        providerId: `eq-${machineId}`,
        providerStatus: ProviderStatus.Running,
        providerIpAddress: "192.0.2.1",
      });
      ids.push(machineId);
    }
    return ids;
  });
}

/** A `retrieve` that claims through the agent-start workflow (one statement). */
export const forAgentStart = (q: Queries) => q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1 });

/** A `retrieve` that names one machine. */
export const byId = (machineId: string) => () => Promise.resolve([machineId]);

/** A finish write that marks the agent started. */
export const agentStarted = (q: Queries, machineId: string) =>
  q.machineSetAgentStarted({ machineId, agentStartedAt: new Date(), agentPublicKey: new Uint8Array([1, 2, 3]) });
