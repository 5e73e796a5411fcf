/**
 * `InventoryProblem`: the warning that the inventory file's last reload
 * failed, with its problems as the loader wrote them (one per line, each
 * naming the file, line and column) and the reassurance that the last good
 * inventory keeps running. Nothing when the last reload succeeded.
 *
 * @module
 */
import type { InventoryStatus } from "../wire.ts";
import { Ago, At } from "./Time.tsx";

export function InventoryProblem(props: { status: InventoryStatus }) {
  const s = props.status;
  if (!s.problem) return null;
  return (
    <div class="callout callout-warn" role="alert" aria-labelledby="inventory-problem">
      <h3 id="inventory-problem">Inventory reload failed</h3>
      <p>
        {s.path ? <span class="mono">{s.path}</span> : "The inventory"} could not be loaded
        {s.problemAt && (
          <>
            {" "}
            <Ago iso={s.problemAt} /> (<At iso={s.problemAt} />)
          </>
        )}:
      </p>
      <pre class="problem">{s.problem}</pre>
      <p>
        The last good inventory (loaded <At iso={s.loadedAt} />) keeps running.
      </p>
    </div>
  );
}
