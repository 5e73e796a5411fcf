/**
 * `Timeline`: a machine's history, newest first: work (Started, Finished,
 * Failed with its cause, Canceled, Retried, Expired), operators' power
 * actions and host key clearings (with who did it and what was sent),
 * backoffs, the agent and the provider's status.
 *
 * @module
 */
import type { TimelineEntry } from "../wire.ts";
import { StatusBadge } from "./StatusBadge.tsx";
import { At } from "./Time.tsx";

type Tone = "ok" | "warn" | "bad" | "neutral";

const EVENT_TONE: Record<string, Tone> = {
  Finished: "ok",
  Failed: "bad",
  Canceled: "warn",
  Expired: "warn",
  Retried: "neutral",
  PoweredOn: "ok",
  PoweredOff: "warn",
  Restarted: "neutral",
  HostKeyCleared: "warn",
};

export function Timeline(props: { entries: readonly TimelineEntry[] }) {
  if (props.entries.length === 0) return <p class="empty">Nothing recorded yet.</p>;
  return (
    <ol class="timeline">
      {props.entries.map((e, i) => (
        <li key={`${e.at}/${e.kind}/${e.event}/${i}`}>
          <span class="timeline-at">
            <At iso={e.at} />
          </span>
          <span class="timeline-what">
            <span class="kind">{e.kind}</span> <StatusBadge status={e.event} tone={EVENT_TONE[e.event]} />
            {e.process && <span>{e.process}</span>}
            {e.actor && <span class="muted">by {e.actor}</span>}
            {e.sessionId && <span class="mono muted" title={e.sessionId}>session {e.sessionId.slice(0, 8)}</span>}
          </span>
          {e.detail && <span class="timeline-detail wrap">{e.detail}</span>}
        </li>
      ))}
    </ol>
  );
}
