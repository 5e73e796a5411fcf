/**
 * `App`: the view the URL names, inside the shell. Moving to another view
 * puts focus on its heading (for keyboard and screen-reader users) and sets
 * the document title.
 *
 * @module
 */
import { useEffect, useRef } from "preact/hooks";
import { Link } from "./components/Link.tsx";
import { Shell } from "./components/Shell.tsx";
import { type Route, route } from "./router.ts";
import { ActiveWorkView } from "./views/ActiveWorkView.tsx";
import { BackoffsView } from "./views/BackoffsView.tsx";
import { MachineDetailView } from "./views/MachineDetailView.tsx";
import { MachinesView } from "./views/MachinesView.tsx";
import { OverviewView } from "./views/OverviewView.tsx";
import { ProviderMachineView } from "./views/ProviderMachineView.tsx";
import { ReservationsView } from "./views/ReservationsView.tsx";
import { SessionsView } from "./views/SessionsView.tsx";

function titleOf(r: Route): string {
  switch (r.view) {
    case "overview":
      return "Overview";
    case "sessions":
      return "Sessions";
    case "work":
      return "Active work";
    case "backoffs":
      return "Backoffs";
    case "machines":
      return "Machines";
    case "machine":
      return `Machine ${r.machineId}`;
    case "providerMachine":
      return `${r.provider} machine ${r.providerId}`;
    case "reservations":
      return "Reservations";
    case "notFound":
      return "Not found";
  }
}

function View(props: { route: Route }) {
  const r = props.route;
  switch (r.view) {
    case "overview":
      return <OverviewView />;
    case "sessions":
      return <SessionsView />;
    case "work":
      return <ActiveWorkView />;
    case "backoffs":
      return <BackoffsView />;
    case "machines":
      return <MachinesView />;
    case "machine":
      return <MachineDetailView key={r.machineId} machineId={r.machineId} />;
    case "providerMachine":
      return (
        <ProviderMachineView key={`${r.provider}/${r.providerId}`} provider={r.provider} providerId={r.providerId} />
      );
    case "reservations":
      return <ReservationsView />;
    case "notFound":
      return (
        <>
          <h2 id="view-heading" tabIndex={-1}>Not found</h2>
          <p>
            Nothing lives at <span class="mono">{r.path}</span>. <Link href="/">Go to the overview</Link>.
          </p>
        </>
      );
  }
}

export function App() {
  const r = route.value;
  const viewKey = r.view === "machine" ? `machine:${r.machineId}` : r.view;
  const first = useRef(true);
  useEffect(() => {
    document.title = `${titleOf(r)} · Drover`;
    if (first.current) {
      first.current = false;
      return;
    }
    globalThis.scrollTo(0, 0);
    document.getElementById("view-heading")?.focus({ preventScroll: true });
  }, [viewKey]);
  return (
    <Shell>
      <View route={r} />
    </Shell>
  );
}
