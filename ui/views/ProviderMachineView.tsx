/**
 * A machine found by its provider's id (`/machines/by-provider/<provider>/<id>`):
 * what a reservation's device or an inventory entry links to. It looks the
 * machine up (`GET machines?provider=…&q=…`) and replaces itself with the
 * machine's page, or says that the BMDB has no such machine (yet).
 *
 * @module
 */
import { useEffect } from "preact/hooks";
import { getMachines } from "../api.ts";
import { ErrorNote } from "../components/ErrorNote.tsx";
import { Link } from "../components/Link.tsx";
import { machineHref, navigate } from "../router.ts";
import { useRemote } from "../use_remote.ts";
import type { Provider } from "../wire.ts";

export function ProviderMachineView(props: { provider: string; providerId: string }) {
  const key = `${props.provider}/${props.providerId}`;
  const remote = useRemote(`provider-machine:${key}`, async (signal) => {
    const page = await getMachines({ provider: props.provider as Provider, q: props.providerId }, {
      limit: 50,
      signal,
    });
    return page.rows.find((m) => m.provider === props.provider && m.providerId === props.providerId) ?? null;
  });
  const found = remote.data.value;
  useEffect(() => {
    if (found) navigate(machineHref(found.machineId), { replace: true });
  }, [found?.machineId]);
  return (
    <>
      <h2 id="view-heading" tabIndex={-1}>
        {props.provider} machine <span class="mono">{props.providerId}</span>
      </h2>
      <ErrorNote message={remote.error.value} />
      {found === undefined && !remote.error.value && <p class="empty">Looking it up…</p>}
      {found === null && (
        <p>
          The BMDB has no {props.provider} machine <span class="mono">{props.providerId}</span>{" "}
          yet: the provisioner records it on its next pass. <Link href="/machines">All machines</Link>
        </p>
      )}
    </>
  );
}
