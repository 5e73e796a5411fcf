/**
 * Typed fetch wrappers for the admin API (`/api/v1`, server/API.md). The
 * page is served by the same server, so requests carry the login cookie and
 * the browser adds `Origin` to every POST.
 *
 * Every failure rejects with {@linkcode ApiError}, whose message is the
 * API's own `error` (naming the field when it does), so views can show it as
 * it is.
 *
 * @module
 */
import type {
  BackoffList,
  InventoryView,
  MachineFilter,
  MachinePage,
  MachineView,
  Overview,
  PowerAction,
  PowerDescription,
  ReservationList,
  Role,
  SessionList,
  WorkList,
} from "./wire.ts";

export const API_PREFIX = "/api/v1";

/** A failed API call: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly field?: string) {
    super(message);
    this.name = "ApiError";
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (body && typeof body === "object" && "error" in body && typeof body.error === "string") {
    const field = "field" in body && typeof body.field === "string" ? body.field : undefined;
    const message = field && !body.error.includes(field) ? `${body.error} (${field})` : body.error;
    return new ApiError(response.status, message, field);
  }
  return new ApiError(response.status, `${response.status} ${response.statusText || "error"}`.trim());
}

async function request<T>(
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${API_PREFIX}/${path}`, {
      method,
      headers: body === undefined
        ? { accept: "application/json" }
        : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw new ApiError(0, `cannot reach the server: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!response.ok) throw await errorOf(response);
  // 202/204 may come without a body.
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function getWhoami(signal?: AbortSignal): Promise<Role> {
  return request("GET", "whoami", undefined, signal);
}

export function getOverview(signal?: AbortSignal): Promise<Overview> {
  return request("GET", "overview", undefined, signal);
}

export function getSessions(signal?: AbortSignal): Promise<SessionList> {
  return request("GET", "sessions", undefined, signal);
}

export function getWork(signal?: AbortSignal): Promise<WorkList> {
  return request("GET", "work", undefined, signal);
}

export function getBackoffs(signal?: AbortSignal): Promise<BackoffList> {
  return request("GET", "backoffs", undefined, signal);
}

export function getReservations(signal?: AbortSignal): Promise<ReservationList> {
  return request("GET", "reservations", undefined, signal);
}

/** The query string of `GET machines` for a filter and page. */
export function machinesQuery(filter: MachineFilter, page: { after?: string; limit?: number } = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filter)) {
    if (value !== undefined && value !== "") params.set(key, String(value));
  }
  if (page.after) params.set("after", page.after);
  if (page.limit) params.set("limit", String(page.limit));
  return params.toString();
}

/** One page of machines (keyset: pass the previous page's `next` as `after`). */
export function getMachines(
  filter: MachineFilter,
  page: { after?: string; limit?: number; signal?: AbortSignal } = {},
): Promise<MachinePage> {
  const query = machinesQuery(filter, page);
  return request("GET", `machines${query ? `?${query}` : ""}`, undefined, page.signal);
}

export function getMachine(machineId: string, signal?: AbortSignal): Promise<MachineView> {
  return request("GET", `machines/${encodeURIComponent(machineId)}`, undefined, signal);
}

/** Asks the owner of this work to stop (202); it leaves the work list when the owner releases it. */
export function cancelWork(machineId: string, process: string): Promise<{ machineId: string; process: string }> {
  return request("POST", "work/cancel", { machineId, process });
}

/** Clears the machine's backoffs (of `process`, or all). */
export function retryMachine(
  machineId: string,
  process?: string,
): Promise<{ machineId: string; backoffsCleared: number }> {
  return request("POST", `machines/${encodeURIComponent(machineId)}/retry`, process ? { process } : {});
}

/**
 * What a power action would send to the machine's BMC (read from the BMC), for
 * the confirmation. Admin only; 422 when the machine has no power control.
 */
export function describePowerAction(
  machineId: string,
  action: PowerAction,
  signal?: AbortSignal,
): Promise<PowerDescription> {
  return request("GET", `machines/${encodeURIComponent(machineId)}/power?action=${action}`, undefined, signal);
}

/**
 * Starts a power action (202): it runs as work (process PowerAction) and lands
 * in history. 409 while other work holds the machine, 422 without power control.
 */
export function requestPowerAction(
  machineId: string,
  action: PowerAction,
): Promise<{ machineId: string; action: PowerAction }> {
  return request("POST", `machines/${encodeURIComponent(machineId)}/power`, { action });
}

/** Forgets the SSH host key recorded on first use (history HostKeyCleared); `cleared` is the key, or null. */
export function clearSshHostKey(machineId: string): Promise<{ machineId: string; cleared: string | null }> {
  return request("DELETE", `machines/${encodeURIComponent(machineId)}/ssh-host-key`);
}

/** The inventory's status and the BMDB's Inventory machines per location. */
export function getInventory(signal?: AbortSignal): Promise<InventoryView> {
  return request("GET", "inventory", undefined, signal);
}

/** Clears the login cookie (the next page load shows the server's login page). */
export function logout(): Promise<unknown> {
  return request("POST", "logout", {});
}

/** A readable message for anything a call rejected with. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
