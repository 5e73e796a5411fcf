/**
 * The BMDB (Bare Metal Database): Drover's fleet state in PostgreSQL, and the
 * session and work-locking machinery components use to act on it.
 *
 * - A {@linkcode Session} is a component's heartbeated presence. While it
 *   lives, its work locks hold; when it dies (crash, partition), they lapse at
 *   its deadline.
 * - {@linkcode Session.work} locks one machine for one {@linkcode Process} in
 *   three phases: retrieve and lock (one transaction), side effects (under
 *   `work.signal`), commit (`finish`, `fail` with a {@linkcode Backoff}, or
 *   `cancel`). Everything is recorded in `work_history`.
 * - Operators cancel work and retry machines through {@linkcode Bmdb}.
 * - {@linkcode ChangeFeed} keeps a process's live values (counts, sessions,
 *   active work, backoffs) current from database change notifications.
 *
 * ```ts
 * const bmdb = await openBmdb({ component: "initializer", databaseUrl });
 * const session = await bmdb.startSession();
 * const work = await session.work(Process.ShepherdAgentStart, (q) =>
 *   q.getMachinesForAgentStart({ provider: Provider.Equinix, limit: 1 }));
 * const key = await startAgent(work.machine, { signal: work.signal }); // side effects
 * await work.finish((q) => q.machineSetAgentStarted({ machineId: work.machineId, agentStartedAt: new Date(), agentPublicKey: key }));
 * ```
 *
 * Without `databaseUrl`, the BMDB is an embedded PGlite (in `dataDir`, or in
 * memory); everything above the driver is the same.
 *
 * @module
 */
export { Bmdb, type BmdbCounters, openBmdb, type OpenBmdbOptions, type StartSessionOptions } from "./bmdb.ts";
export { type Backoff, nextBackoffSeconds, normalizeBackoff } from "./backoff.ts";
export { ChangeFeed, type ChangeFeedOptions, type ChangeFeedValues, type FeedSink } from "./change_feed.ts";
export {
  DatabaseError,
  DatabaseRefusedError,
  DatabaseUnavailableError,
  InvalidArgumentError,
  isDatabaseUnavailable,
  MachineNotFoundError,
  MigrationError,
  NothingToDoError,
  SchemaTooNewError,
  SessionExpiredError,
  WorkCanceledError,
  WorkConflictError,
  WorkNotFoundError,
} from "./errors.ts";
export type { LogFields, Logger } from "./log.ts";
export { loadMigrations, type Migration, type MigrationResult } from "./migrate.ts";
export {
  HistoryEvent,
  InstallationResult,
  OPERATOR_PROCESSES,
  type OperatorProcess,
  Process,
  PROCESS_DESCRIPTIONS,
  PROCESSES,
  Provider,
  PROVIDERS,
  ProviderStatus,
  SHEPHERD_PROCESSES,
} from "./model.ts";
export type { Query } from "./query.ts";
export type { Queries } from "./queries.ts";
export type { HistoryRates, ListByProcess, LiveSession } from "./queries_admin.ts";
export type { AgentReport, AgentReportOutcome, AgentStarted } from "./queries_agent.ts";
export type { HistoryEntry, Machine, WorkBackoff } from "./queries_base.ts";
export type { ActiveWork, FeedList, FeedSession } from "./queries_feed.ts";
export type { BmdbCounts, ProcessCounts } from "./queries_stats.ts";
export type { MachineProvided, RecoveryTimeouts } from "./queries_workflows.ts";
export type { LoopEligibility, UnmetCondition, WhyIdle } from "./queries_why_idle.ts";
export {
  MACHINE_TAGS,
  type MachineDetail,
  type MachineFilter,
  type MachineSummary,
  type MachineTag,
  type ProvidedDevice,
  type ProvidedField,
  type ProvidedMachine,
} from "./queries_machines.ts";
export type { HostKeyCleared, InventoryLocationCounts } from "./queries_owned.ts";
export { Session } from "./session.ts";
export { Work } from "./work.ts";
