/**
 * The BMDB's vocabulary: processes, providers, statuses and history events.
 * Values are the strings stored in the database.
 *
 * ONCHANGE(migrations/): the CHECK constraints on work_backoff and
 * machine_provided list the same values; a new value needs a migration that
 * replaces them. (work_slot and work_history have none since 0002: only the
 * BMDB writes them, after validating.)
 *
 * @module
 */

/** Kinds of work a component performs on a machine. At most one of each runs per machine. */
export const Process = {
  /** Start the agent on a machine that has none (the initializer). */
  ShepherdAgentStart: "ShepherdAgentStart",
  /** Recover a machine whose agent stopped heartbeating (the recoverer). */
  ShepherdRecovery: "ShepherdRecovery",
  /** An operator's power action (on, off, restart) through the machine's BMC, while the BMC carries it out. */
  PowerAction: "PowerAction",
  /** Reserved for tests. */
  UnitTest1: "UnitTest1",
  /** Reserved for tests. */
  UnitTest2: "UnitTest2",
} as const;
export type Process = typeof Process[keyof typeof Process];

/** All processes, for validation (the BMDB's contract tests use the test-only ones). */
export const PROCESSES: readonly Process[] = Object.values(Process);

/**
 * The processes Drover's own components run: what operators are offered
 * (counts, filters, the API's enumerations, metrics' labels). The test-only
 * processes stay valid in the BMDB, for its contract tests, and are shown
 * nowhere.
 */
export const OPERATOR_PROCESSES = [
  Process.ShepherdAgentStart,
  Process.ShepherdRecovery,
  Process.PowerAction,
] as const satisfies readonly Process[];
export type OperatorProcess = typeof OPERATOR_PROCESSES[number];

/** What each operator process is, as the API describes it. */
export const PROCESS_DESCRIPTIONS: Readonly<Record<OperatorProcess, string>> = {
  ShepherdAgentStart: "the initializer starts the agent on a machine that has none",
  ShepherdRecovery: "the recoverer restarts (or powers on) a machine whose agent went quiet",
  PowerAction: "an operator's power action (on, off, restart) through the machine's BMC",
};

/**
 * Processes that exclude each other on one machine: the shepherd's agent start
 * and recovery, and an operator's power action, all act on the machine itself.
 */
export const SHEPHERD_PROCESSES: readonly Process[] = [
  Process.ShepherdAgentStart,
  Process.ShepherdRecovery,
  Process.PowerAction,
];

/** The other processes whose live work on a machine keeps `process` off it. */
export function excludingProcesses(process: Process): readonly Process[] {
  return SHEPHERD_PROCESSES.includes(process) ? SHEPHERD_PROCESSES.filter((p) => p !== process) : [];
}

/** Where a machine comes from. */
export const Provider = {
  /** Equinix Metal (ended 2026-06-30; its API and simulator stay). */
  Equinix: "Equinix",
  /** Machines the operator owns, listed in an inventory file, with a Redfish BMC each where they have one. */
  Inventory: "Inventory",
} as const;
export type Provider = typeof Provider[keyof typeof Provider];
export const PROVIDERS: readonly Provider[] = Object.values(Provider);

/** A machine's state as its provider reports it, mapped to Drover's terms. */
export const ProviderStatus = {
  /** The provider does not know the machine: investigate. */
  Missing: "Missing",
  Provisioning: "Provisioning",
  /** The provider failed to provide it and will not retry without deprovisioning. */
  ProvisioningFailedPermanent: "ProvisioningFailedPermanent",
  Running: "Running",
  /** Administratively stopped, not failed. */
  Stopped: "Stopped",
  Unknown: "Unknown",
} as const;
export type ProviderStatus = typeof ProviderStatus[keyof typeof ProviderStatus];
export const PROVIDER_STATUSES: readonly ProviderStatus[] = Object.values(ProviderStatus);

/** Events in `work_history`. */
export const HistoryEvent = {
  Started: "Started",
  Finished: "Finished",
  Failed: "Failed",
  /** Released without finishing: by its owner, by closing its session, or by an operator (actor set). */
  Canceled: "Canceled",
  /** An operator cleared the machine's backoff (actor set; process null = all processes). */
  Retried: "Retried",
  /** The owning session died; the work was released by a later claim or the janitor. */
  Expired: "Expired",
  /** An operator powered the machine on through its BMC (actor set; detail: the ResetTypes sent). */
  PoweredOn: "PoweredOn",
  /** An operator powered the machine off through its BMC; it stays off (actor set; detail: the ResetTypes sent). */
  PoweredOff: "PoweredOff",
  /** An operator restarted the machine through its BMC (actor set; detail: the ResetTypes sent). */
  Restarted: "Restarted",
  /** An operator cleared the SSH host key recorded on first use (actor set; detail: the key cleared). */
  HostKeyCleared: "HostKeyCleared",
} as const;
export type HistoryEvent = typeof HistoryEvent[keyof typeof HistoryEvent];

/** Outcome of an OS installation, as the agent reports it. */
export const InstallationResult = { Success: "Success", Error: "Error" } as const;
export type InstallationResult = typeof InstallationResult[keyof typeof InstallationResult];
