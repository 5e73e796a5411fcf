/**
 * A machine's timeline for its page: work history, active backoffs, the
 * agent's start and last heartbeat, and the provider's current status, as
 * one list, newest first.
 *
 * @module
 */
import type { HistoryEntry, MachineDetail, Process } from "../bmdb/mod.ts";

export interface TimelineEntry {
  at: string;
  kind: "work" | "backoff" | "heartbeat" | "agent" | "provider";
  event: string;
  process: Process | null;
  detail: string | null;
  actor: string | null;
  sessionId: string | null;
}

function entry(e: Partial<TimelineEntry> & Pick<TimelineEntry, "at" | "kind" | "event">): TimelineEntry {
  return { process: null, detail: null, actor: null, sessionId: null, ...e };
}

const iso = (d: Date | string) => typeof d === "string" ? d : d.toISOString();

export function machineTimeline(machine: MachineDetail, history: readonly HistoryEntry[]): TimelineEntry[] {
  const entries: TimelineEntry[] = history.map((h) =>
    entry({
      at: iso(h.timestamp),
      kind: "work",
      event: h.event,
      process: h.process,
      detail: h.failedCause ?? h.detail,
      actor: h.actor,
      sessionId: h.sessionId,
    })
  );
  for (const b of machine.backoffs) {
    entries.push(entry({
      at: iso(b.until),
      kind: "backoff",
      event: "BackoffUntil",
      process: b.process,
      detail: `${b.cause} (interval ${b.lastIntervalSeconds} s)`,
    }));
  }
  if (machine.agentStartedAt) {
    entries.push(entry({ at: iso(machine.agentStartedAt), kind: "agent", event: "AgentStarted" }));
  }
  if (machine.agentHeartbeatAt) {
    entries.push(entry({ at: iso(machine.agentHeartbeatAt), kind: "heartbeat", event: "LastHeartbeat" }));
  }
  if (machine.providerStatus) {
    entries.push(entry({
      at: iso(machine.createdAt),
      kind: "provider",
      event: machine.providerStatus,
      detail: [machine.providerId, machine.providerIpAddress, machine.providerLocation].filter(Boolean).join(", "),
    }));
  }
  // Newest first; equal times keep their order reversed (history is oldest first).
  return entries.map((e, i) => ({ e, i })).sort((a, b) => b.e.at.localeCompare(a.e.at) || b.i - a.i).map(({ e }) => e);
}
