/**
 * `ProcessFilter`: a labelled select of the processes ("" for all).
 *
 * @module
 */
import { PROCESSES } from "../wire.ts";

export function ProcessFilter(props: { value: string; onChange: (process: string) => void; id?: string }) {
  const id = props.id ?? "process-filter";
  return (
    <label class="field" for={id}>
      <span>Process</span>
      <select
        id={id}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
      >
        <option value="">All</option>
        {PROCESSES.map((p) => <option key={p} value={p}>{p}</option>)}
      </select>
    </label>
  );
}
