/**
 * The one event stream (`GET /api/v1/events`) that keeps the store live.
 *
 * EventSource reconnects by itself after a dropped connection and sends
 * `Last-Event-ID`, so the server replays what was missed (or sends a
 * snapshot). Only when the browser gives up (the server refused the stream,
 * e.g. 401 after the login cookie went away) does this open a new one, after
 * asking `whoami` whether the token is still good.
 *
 * @module
 */
import { API_PREFIX, ApiError, getWhoami } from "./api.ts";
import { applyEvent, type DashboardState, EVENT_NAMES, type EventName } from "./state.ts";

export interface ConnectEventsOptions {
  /** @default "/api/v1/events" */
  url?: string;
  /** Wait before opening a new stream after the browser gave one up. @default 3000 */
  reopenDelayMs?: number;
}

/** Opens the stream and applies its events to `state`; returns the function that closes it. */
export function connectEvents(state: DashboardState, options: ConnectEventsOptions = {}): () => void {
  const url = options.url ?? `${API_PREFIX}/events`;
  const reopenDelayMs = options.reopenDelayMs ?? 3000;
  let source: EventSource | undefined;
  let reopenTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  const open = () => {
    if (closed) return;
    const es = new EventSource(url);
    source = es;
    state.connection.value = state.connection.peek() === "connecting" ? "connecting" : "reconnecting";
    es.addEventListener("open", () => {
      state.connection.value = "live";
    });
    es.addEventListener("error", () => {
      if (closed) return;
      if (es.readyState === EventSource.CONNECTING) {
        state.connection.value = "reconnecting";
        return;
      }
      // CLOSED: the browser will not retry this one.
      es.close();
      state.connection.value = "reconnecting";
      getWhoami().then(
        () => schedule(),
        (error) => {
          if (error instanceof ApiError && error.status === 401) state.connection.value = "logged out";
          else schedule();
        },
      );
    });
    for (const name of EVENT_NAMES) {
      es.addEventListener(name, (event) => onMessage(name, event as MessageEvent<string>));
    }
  };

  const schedule = () => {
    if (closed) return;
    clearTimeout(reopenTimer);
    reopenTimer = setTimeout(open, reopenDelayMs);
  };

  const onMessage = (name: EventName, event: MessageEvent<string>) => {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      console.warn(`event ${name} ${event.lastEventId}: data is not JSON`);
      return;
    }
    state.connection.value = "live";
    applyEvent(state, name, data as never);
  };

  open();
  return () => {
    closed = true;
    clearTimeout(reopenTimer);
    source?.close();
  };
}
