/**
 * The admin API's JSON shapes (`/api/v1`, see server/API.md), as the browser
 * receives them: every time is an ISO 8601 string.
 *
 * The dashboard is bundled alone for the browser, so it declares what it
 * reads here rather than importing server or BMDB modules.
 *
 * @module
 */

export const PROCESSES = ["ShepherdAgentStart", "ShepherdRecovery", "UnitTest1", "UnitTest2"] as const;
export type Process = typeof PROCESSES[number];

export const MACHINE_TAGS = [
  "provided",
  "agentStarted",
  "agentHeartbeat",
  "hardwareReport",
  "osInstallationRequest",
  "osInstallationReport",
] as const;
export type MachineTag = typeof MACHINE_TAGS[number];

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
  process?: Process;
  providerStatus?: ProviderStatus;
  inBackoff?: boolean;
  hasWork?: boolean;
}

/** The `snapshot` event: every live value the server has (a source without a value yet is absent). */
export interface Snapshot {
  counts?: Counts;
  sessions?: SessionList;
  work?: WorkList;
  backoffs?: BackoffList;
  reservations?: ReservationList;
  provisioner?: ProvisionerStatus | null;
}
