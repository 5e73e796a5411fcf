/**
 * The admin API's JSON shapes (`/api/v1`, see server/API.md), as the browser
 * receives them: every time is an ISO 8601 string.
 *
 * The dashboard is bundled alone for the browser, so it declares what it
 * reads here rather than importing server or BMDB modules.
 *
 * @module
 */

/** The processes operators are offered (filters, counts): the BMDB's test-only ones are offered nowhere. */
export const PROCESSES = ["ShepherdAgentStart", "ShepherdRecovery", "PowerAction"] as const;
/** A process a row may name: Drover's, or (only where the BMDB's contract tests ran) a test-only one. */
export type Process = typeof PROCESSES[number] | "UnitTest1" | "UnitTest2";

export const MACHINE_TAGS = [
  "provided",
  "agentStarted",
  "agentHeartbeat",
  "hardwareReport",
  "osInstallationRequest",
  "osInstallationReport",
] as const;
export type MachineTag = typeof MACHINE_TAGS[number];

export const PROVIDERS = ["Equinix", "Inventory"] as const;
export type Provider = typeof PROVIDERS[number];

export const PROVIDER_STATUSES = [
  "Missing",
  "Provisioning",
  "ProvisioningFailedPermanent",
  "Running",
  "Stopped",
  "Unknown",
] as const;
export type ProviderStatus = typeof PROVIDER_STATUSES[number];

/** Counts per process (a process may be absent: read it as 0). */
export type ProcessCounts = Partial<Record<string, number>>;

export interface Role {
  role: "admin" | "readonly";
}

export interface Counts {
  machines: number;
  liveSessions: number;
  activeWork: ProcessCounts;
  activeBackoffs: ProcessCounts;
}

export interface ProvisionerStatus {
  provider?: string;
  halted: boolean;
  reason: string | null;
  managedDevices: number | null;
  maxDevices: number | null;
  lastPassAt: string | null;
}

export interface Rates {
  bucketSeconds: number;
  /** Start of the oldest bucket. */
  since: string;
  claims: number[];
  failures: number[];
}

export interface Overview {
  serverTime: string;
  counts: Counts;
  provisioner: ProvisionerStatus | null;
  rates: Rates;
  /** Set when the embedded demo fleet runs: what it does. */
  demo: string | null;
}

export interface SessionRow {
  sessionId: string;
  component: string;
  runtimeInfo: string;
  createdAt: string;
  intervalSeconds: number;
  /** Absent when the source does not carry it (heartbeats are not changes). */
  deadline?: string | null;
}

export interface SessionList {
  total: number;
  rows: SessionRow[];
}

export interface WorkRow {
  machineId: string;
  process: Process;
  sessionId: string;
  component: string;
  startedAt: string;
  cancelRequestedAt: string | null;
  cancelRequestedBy: string | null;
}

export interface WorkList {
  total: number;
  byProcess?: ProcessCounts;
  rows: WorkRow[];
}

export interface BackoffRow {
  machineId: string;
  process: Process;
  until: string;
  cause: string;
  lastIntervalSeconds: number;
}

export interface BackoffList {
  total: number;
  byProcess?: ProcessCounts;
  rows: BackoffRow[];
}

export interface ReservationRow {
  id: string;
  plan: string | null;
  metro: string | null;
  provisionable: boolean;
  deviceId: string | null;
  readAt: string;
}

export interface ReservationList {
  rows: ReservationRow[];
}

export interface MachineSummary {
  machineId: string;
  createdAt: string;
  provider: string | null;
  providerId: string | null;
  providerReservationId: string | null;
  providerIpAddress: string | null;
  providerLocation: string | null;
  providerStatus: ProviderStatus | null;
  providerPowerState: string | null;
  providerHealth: string | null;
  providerStatusCause: string | null;
  providerBmc: string | null;
  providerHeldOffAt: string | null;
  providerHeldOffBy: string | null;
  agentStartedAt: string | null;
  agentHeartbeatAt: string | null;
  work: { process: Process; sessionId: string; component: string; startedAt: string }[];
  backoffs: { process: Process; until: string; cause: string; lastIntervalSeconds: number }[];
}

export interface MachinePage {
  rows: MachineSummary[];
  next: string | null;
}

export interface MachineDetail extends MachineSummary {
  agentPublicKey: string | null;
  sshHostKey: { key: string; recordedAt: string } | null;
  hardwareReport: unknown;
  osInstallationRequest: { generation: number } | null;
  osInstallationReport: { generation: number; result: string } | null;
}

export interface UnmetCondition {
  condition: string;
  reason: string;
  detail: string | null;
}

export interface LoopEligibility {
  loop: string;
  process: Process;
  eligible: boolean;
  unmet: UnmetCondition[];
}

export interface WhyIdle {
  machineId: string;
  provided: boolean;
  loops: LoopEligibility[];
}

export interface TimelineEntry {
  at: string;
  kind: "work" | "backoff" | "heartbeat" | "agent" | "provider";
  event: string;
  process: Process | null;
  detail: string | null;
  actor: string | null;
  sessionId: string | null;
}

export interface MachineView {
  machine: MachineDetail;
  whyIdle: WhyIdle;
  timeline: TimelineEntry[];
}

/** What `GET machines` filters by; every field is optional. */
export interface MachineFilter {
  q?: string;
  tag?: MachineTag;
  provider?: Provider;
  process?: Process;
  providerStatus?: ProviderStatus;
  inBackoff?: boolean;
  hasWork?: boolean;
}

/** Machines per location of the inventory file (`location` null: none given). */
export interface InventoryLocation {
  location: string | null;
  machines: number;
  withoutBmc: number;
}

/** The `inventory` event: the inventory file of machines you own, as it runs now. */
export interface InventoryStatus {
  /** The inventory file; null for the demo's simulated fleet. */
  path: string | null;
  /** When the inventory now running was loaded. */
  loadedAt: string;
  machines: number;
  withoutBmc: number;
  locations: InventoryLocation[];
  /** The last reload's problems, one per line ("inventory.yaml:12:7: machines[3].ssh: …"); null when it loaded. */
  problem: string | null;
  /** When that reload was tried. */
  problemAt: string | null;
}

/** The BMDB's Inventory machines of one location. */
export interface RecordedLocation {
  location: string | null;
  /** Machines in the BMDB. */
  machines: number;
  /** Of those, no longer in the inventory file (provider status Missing). */
  missing: number;
  withoutBmc: number;
}

/** `GET inventory`. */
export interface InventoryView {
  status: InventoryStatus | null;
  recorded: RecordedLocation[];
}

export const POWER_ACTIONS = ["on", "off", "restart"] as const;
export type PowerAction = typeof POWER_ACTIONS[number];

/** `GET machines/:id/power?action=`: what the action would send, for the confirmation. */
export interface PowerDescription {
  machineId: string;
  action: PowerAction;
  /** e.g. "GracefulRestart, then ForceRestart if it has not restarted after 120 s, to … at https://…". */
  description: string;
}

/** The `snapshot` event: every live value the server has (a source without a value yet is absent). */
export interface Snapshot {
  counts?: Counts;
  sessions?: SessionList;
  work?: WorkList;
  backoffs?: BackoffList;
  reservations?: ReservationList;
  provisioner?: ProvisionerStatus | null;
  /** Present only when machines you own run. */
  inventory?: InventoryStatus;
}
