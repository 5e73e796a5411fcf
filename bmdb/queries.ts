/**
 * `q`: the typed query functions handed to `transact`, `retrieve` and
 * `finish`, bound to the transaction they run in.
 *
 * @module
 */
import { Query, type QueryRunner, type QuerySpec } from "./query.ts";
import * as admin from "./queries_admin.ts";
import * as agent from "./queries_agent.ts";
import * as base from "./queries_base.ts";
import * as machines from "./queries_machines.ts";
import * as owned from "./queries_owned.ts";
import * as stats from "./queries_stats.ts";
import * as tags from "./queries_tags.ts";
import * as whyIdle from "./queries_why_idle.ts";
import * as workflows from "./queries_workflows.ts";

const specs = {
  newMachine: base.newMachine,
  listHistoryOf: base.listHistoryOf,
  workBackoffOf: base.workBackoffOf,

  machineAddProvided: tags.machineAddProvided,
  machineSetAgentStarted: tags.machineSetAgentStarted,
  machineSetAgentHeartbeat: tags.machineSetAgentHeartbeat,
  machineSetHardwareReport: tags.machineSetHardwareReport,
  machineSetOSInstallationRequest: tags.machineSetOSInstallationRequest,
  machineSetOSInstallationReport: tags.machineSetOSInstallationReport,
  machineDeleteAgentStarted: tags.machineDeleteAgentStarted,
  machineDeleteAgentHeartbeat: tags.machineDeleteAgentHeartbeat,
  machineUpdateProviderStatus: tags.machineUpdateProviderStatus,

  getAgentStarted: agent.getAgentStarted,
  getProvidedMachines: workflows.getProvidedMachines,
  getMachinesForAgentStart: workflows.getMachinesForAgentStart,
  getMachineForAgentRecovery: workflows.getMachineForAgentRecovery,
  whyIdle: whyIdle.whyIdle,
  listMachines: machines.listMachines,
  countMachinesMatching: machines.countMachinesMatching,
  getMachine: machines.getMachine,
  getDatabaseTime: machines.getDatabaseTime,
  newProvidedMachines: machines.newProvidedMachines,
  machinesUpdateProviderStatus: machines.machinesUpdateProviderStatus,
  machinesMarkMissing: machines.machinesMarkMissing,

  getSshHostKey: owned.getSshHostKey,
  machineSetSshHostKey: owned.machineSetSshHostKey,
  recordOperatorAction: owned.recordOperatorAction,
  machineSetPower: owned.machineSetPower,
  inventoryLocations: owned.inventoryLocations,
  listLiveSessions: admin.listLiveSessions,
  historyRates: admin.historyRates,
  listWork: admin.listWork,
  listBackoffs: admin.listBackoffs,

  countMachines: stats.countMachines,
  countMachinesProvided: stats.countMachinesProvided,
  countLiveSessions: stats.countLiveSessions,
  countActiveWork: stats.countActiveWork,
  countActiveBackoffs: stats.countActiveBackoffs,
  countMachinesAgentHeartbeating: stats.countMachinesAgentHeartbeating,
  countAgentsQuiet: stats.countAgentsQuiet,
  countMachinesInstallationPending: stats.countMachinesInstallationPending,
  countMachinesInstallationComplete: stats.countMachinesInstallationComplete,
  countMachinesForAgentStart: stats.countMachinesForAgentStart,
  countMachinesForAgentRecovery: stats.countMachinesForAgentRecovery,
  getCounts: stats.getCounts,
};

type Specs = typeof specs;
type ResultOf<S> = S extends (...args: never[]) => QuerySpec<infer T> ? T : never;

/**
 * The query functions. Each validates its arguments at once (throwing
 * `InvalidArgumentError`, so nothing is written) and returns a lazy
 * {@linkcode Query}: it runs when awaited.
 */
export type Queries = { [K in keyof Specs]: (...args: Parameters<Specs[K]>) => Query<ResultOf<Specs[K]>> };

interface Binding {
  runner: QueryRunner;
  onCreate?: (query: Query<unknown>) => void;
}

// The methods live on one shared prototype, so binding `q` to a transaction
// (once per claim and per commit) allocates one small object.
const prototype: Record<string, unknown> = {};
for (const [name, spec] of Object.entries(specs)) {
  prototype[name] = function (this: Binding, ...args: unknown[]) {
    const query = new Query(this.runner, (spec as (...a: unknown[]) => QuerySpec<unknown>)(...args));
    this.onCreate?.(query);
    return query;
  };
}

/** Binds the query functions to `runner`; `onCreate` sees every query made (to catch forgotten awaits). */
export function bindQueries(runner: QueryRunner, onCreate?: (query: Query<unknown>) => void): Queries {
  const binding: Binding = Object.create(prototype);
  binding.runner = runner;
  binding.onCreate = onCreate;
  return binding as unknown as Queries;
}
