/**
 * The URL is the dashboard's navigation state: the path names the view, the
 * query its filters, so every screen can be shared as a link and back and
 * forward work. `history.state` carries what a link cannot (the machine
 * pages visited before this one, for "Previous").
 *
 * @module
 */
import { computed, signal } from "@preact/signals";

export interface Location {
  pathname: string;
  search: URLSearchParams;
  /** `history.state` of this entry. */
  state: unknown;
}

function read(): Location {
  return {
    pathname: globalThis.location.pathname,
    search: new URLSearchParams(globalThis.location.search),
    state: history.state,
  };
}

/** Where the browser is; changes on navigate() and on back/forward. */
export const location = signal<Location>(read());

export type Route =
  | { view: "overview" }
  | { view: "sessions" }
  | { view: "work" }
  | { view: "backoffs" }
  | { view: "machines" }
  | { view: "machine"; machineId: string }
  /** A machine found by its provider's id (a reservation's device, an inventory entry): resolved, then its page. */
  | { view: "providerMachine"; provider: string; providerId: string }
  | { view: "reservations" }
  | { view: "notFound"; path: string };

export function parseRoute(pathname: string): Route {
  const parts = pathname.split("/").filter((p) => p !== "");
  if (parts.length === 0) return { view: "overview" };
  if (parts.length === 1) {
    switch (parts[0]) {
      case "sessions":
        return { view: "sessions" };
      case "work":
        return { view: "work" };
      case "backoffs":
        return { view: "backoffs" };
      case "machines":
        return { view: "machines" };
      case "reservations":
        return { view: "reservations" };
    }
  }
  if (parts.length === 2 && parts[0] === "machines") {
    return { view: "machine", machineId: decodeURIComponent(parts[1]) };
  }
  if (parts.length === 4 && parts[0] === "machines" && parts[1] === "by-provider") {
    return {
      view: "providerMachine",
      provider: decodeURIComponent(parts[2]),
      providerId: decodeURIComponent(parts[3]),
    };
  }
  return { view: "notFound", path: pathname };
}

export const route = computed(() => parseRoute(location.value.pathname));

/** The path of a machine's page. */
export function machineHref(machineId: string): string {
  return `/machines/${encodeURIComponent(machineId)}`;
}

/** The path of the page of the machine `provider` knows as `providerId` (found when followed). */
export function providerMachineHref(provider: string, providerId: string): string {
  return `/machines/by-provider/${encodeURIComponent(provider)}/${encodeURIComponent(providerId)}`;
}

/** Goes to `href` (same origin) without reloading; `replace` rewrites the current entry instead of adding one. */
export function navigate(href: string, options: { replace?: boolean; state?: unknown } = {}): void {
  const state = options.state ?? null;
  if (options.replace) history.replaceState(state, "", href);
  else history.pushState(state, "", href);
  location.value = read();
}

/** Starts following back/forward; returns its stop function. */
export function followHistory(): () => void {
  const onPop = () => {
    location.value = read();
  };
  globalThis.addEventListener("popstate", onPop);
  return () => globalThis.removeEventListener("popstate", onPop);
}

/** A path with query parameters, leaving out empty ones. */
export function hrefWith(pathname: string, params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) search.set(key, value);
  const query = search.toString();
  return query ? `${pathname}?${query}` : pathname;
}
