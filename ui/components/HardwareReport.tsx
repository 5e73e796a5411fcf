/**
 * `HardwareReport`: the agent's report, decoded. The usual shape (CPU,
 * memory, disks, NICs) reads as a summary; anything else, and the raw JSON,
 * is one click away.
 *
 * @module
 */
import { formatBytes } from "../format.ts";

interface Known {
  cpu?: { model?: unknown; cores?: unknown; threads?: unknown };
  memoryBytes?: unknown;
  disks?: { name?: unknown; sizeBytes?: unknown; model?: unknown }[];
  nics?: { name?: unknown; mac?: unknown; speedMbps?: unknown }[];
  simulated?: unknown;
}

const text = (v: unknown) => (v === null || v === undefined ? "—" : String(v));

export function HardwareReport(props: { report: unknown }) {
  const report = props.report;
  if (report === null || report === undefined) return <p class="empty">No report from an agent yet.</p>;
  const known = (typeof report === "object" ? report : {}) as Known;
  return (
    <>
      <dl class="facts">
        {known.cpu && (
          <>
            <dt>CPU</dt>
            <dd>
              {text(known.cpu.model)}, {text(known.cpu.cores)} cores / {text(known.cpu.threads)} threads
            </dd>
          </>
        )}
        {typeof known.memoryBytes === "number" && (
          <>
            <dt>Memory</dt>
            <dd>{formatBytes(known.memoryBytes)}</dd>
          </>
        )}
        {Array.isArray(known.disks) && (
          <>
            <dt>Disks</dt>
            <dd>
              {known.disks.length === 0 ? "none" : known.disks.map((d, i) => (
                <div key={i}>
                  <span class="mono">{text(d.name)}</span>{" "}
                  {typeof d.sizeBytes === "number" ? formatBytes(d.sizeBytes) : ""} {d.model ? text(d.model) : ""}
                </div>
              ))}
            </dd>
          </>
        )}
        {Array.isArray(known.nics) && (
          <>
            <dt>NICs</dt>
            <dd>
              {known.nics.length === 0 ? "none" : known.nics.map((n, i) => (
                <div key={i}>
                  <span class="mono">{text(n.name)}</span> <span class="mono">{text(n.mac)}</span>{" "}
                  {typeof n.speedMbps === "number" ? `${n.speedMbps / 1000} Gb/s` : ""}
                </div>
              ))}
            </dd>
          </>
        )}
        {known.simulated === true && (
          <>
            <dt>Source</dt>
            <dd>simulated machine (made-up values)</dd>
          </>
        )}
      </dl>
      <details>
        <summary>Raw report</summary>
        <pre class="raw">{JSON.stringify(report, null, 2)}</pre>
      </details>
    </>
  );
}
