/**
 * `Shell`: the frame around every view: the navigation (with live counts),
 * the connection state, the pause switch, the role, and the banners that
 * must be seen from anywhere (provisioner halted, stream lost).
 *
 * @module
 */
import type { ComponentChildren } from "preact";
import { logout, messageOf } from "../api.ts";
import { formatCount } from "../format.ts";
import { route } from "../router.ts";
import { setPaused, useDashboard } from "../state.ts";
import { Link } from "./Link.tsx";

const NAV: { view: string; href: string; label: string }[] = [
  { view: "overview", href: "/", label: "Overview" },
  { view: "sessions", href: "/sessions", label: "Sessions" },
  { view: "work", href: "/work", label: "Active work" },
  { view: "backoffs", href: "/backoffs", label: "Backoffs" },
  { view: "machines", href: "/machines", label: "Machines" },
  { view: "reservations", href: "/reservations", label: "Reservations" },
];

function sum(counts: Partial<Record<string, number>> | undefined): number | undefined {
  return counts ? Object.values(counts).reduce((a: number, b) => a + (b ?? 0), 0) : undefined;
}

export function Shell(props: { children: ComponentChildren }) {
  const state = useDashboard();
  const current = route.value.view === "machine" ? "machines" : route.value.view;
  const counts = state.counts.value;
  const badge: Record<string, number | undefined> = {
    sessions: counts?.liveSessions,
    work: sum(counts?.activeWork),
    backoffs: sum(counts?.activeBackoffs),
  };
  const paused = state.paused.value;
  const connection = state.connection.value;
  const provisioner = state.provisioner.value;

  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById("view-heading")?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Drover</span>
        <nav aria-label="Views" class="nav">
          <ul>
            {NAV.map((item) => (
              <li key={item.view}>
                <Link href={item.href} current={current === item.view}>
                  {item.label}
                  {badge[item.view] !== undefined && <span class="count">{formatCount(badge[item.view])}</span>}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="status">
          <span class={`conn conn-${paused ? "paused" : connection.replace(" ", "-")}`} role="status">
            {paused ? "paused" : connection}
          </span>
          <button
            type="button"
            class={paused ? "resume" : undefined}
            onClick={() => setPaused(state, !paused)}
            title={paused ? "Apply what arrived while paused, and stay live" : "Stop applying updates"}
          >
            {paused ? `Resume${state.heldCount.value ? ` (${state.heldCount.value})` : ""}` : "Pause"}
          </button>
          {state.role.value === "readonly" && (
            <span class="badge badge-neutral" title="This token can read, not act">read-only</span>
          )}
          <button
            type="button"
            class="link-button"
            onClick={() =>
              logout().then(() => globalThis.location.reload(), (e) =>
                globalThis.alert(`Log out failed: ${messageOf(e)}`))}
          >
            Log out
          </button>
        </div>
      </header>
      {provisioner?.halted && (
        <div class="banner banner-bad" role="alert">
          <strong>Provisioner halted.</strong> {provisioner.reason ?? "No reason given."}
        </div>
      )}
      {connection === "logged out" && (
        <div class="banner banner-warn" role="alert">
          The session has ended. <a href={globalThis.location.pathname + globalThis.location.search}>Reload</a>{" "}
          to log in again.
        </div>
      )}
      {paused && (
        <div class="banner banner-info" role="status">
          Updates paused: what you see stays put. {formatCount(state.heldCount.value)} update
          {state.heldCount.value === 1 ? "" : "s"} held back; Resume applies them.
        </div>
      )}
      <main id="main">{props.children}</main>
    </>
  );
}
