/**
 * `useRemote`: data a view reads from the API rather than from the event
 * stream (a machine page, a page of the machine list), kept fresh without
 * hammering the server.
 *
 * @module
 */
import { type ReadonlySignal, type Signal, useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { messageOf } from "./api.ts";

export interface RemoteOptions {
  /** Refetch when this signal changes (e.g. the store's `fleetChanged`). */
  refreshOn?: ReadonlySignal<unknown>;
  /** Refetch at least this often, in ms, even without a change. */
  intervalMs?: number;
  /** At most one fetch per this many ms for refreshes. @default 2000 */
  minIntervalMs?: number;
  /** While true, refreshes wait (the first load does not). */
  paused?: ReadonlySignal<boolean>;
}

export interface Remote<T> {
  /** The newest reply (kept while the next one loads, so the view does not flicker). */
  data: Signal<T | undefined>;
  /** The API's message when the newest attempt failed. */
  error: Signal<string | undefined>;
  loading: Signal<boolean>;
  /** The `key` the data belongs to. */
  dataKey: Signal<string | undefined>;
  /** Reads again soon (as a `refreshOn` change would): after an action the event stream does not report. */
  refresh: () => void;
}

/**
 * Loads `load()` when `key` changes (aborting the previous load), then again
 * on `refreshOn` changes and every `intervalMs`, at most once per
 * `minIntervalMs`, never two at a time, and not while `paused`.
 */
export function useRemote<T>(
  key: string,
  load: (signal: AbortSignal) => Promise<T>,
  options: RemoteOptions = {},
): Remote<T> {
  const data = useSignal<T | undefined>(undefined);
  const error = useSignal<string | undefined>(undefined);
  const loading = useSignal(false);
  const dataKey = useSignal<string | undefined>(undefined);
  const scheduled = useRef<() => void>(() => {});

  useEffect(() => {
    const controller = new AbortController();
    const minIntervalMs = options.minIntervalMs ?? 2000;
    let inFlight = false;
    let wanted = false;
    let lastStart = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const run = async () => {
      if (controller.signal.aborted) return;
      inFlight = true;
      wanted = false;
      lastStart = Date.now();
      loading.value = true;
      try {
        const reply = await load(controller.signal);
        if (controller.signal.aborted) return;
        data.value = reply;
        dataKey.value = key;
        error.value = undefined;
      } catch (e) {
        if (controller.signal.aborted) return;
        error.value = messageOf(e);
      } finally {
        inFlight = false;
        if (!controller.signal.aborted) {
          loading.value = false;
          if (wanted) schedule();
        }
      }
    };

    const schedule = () => {
      wanted = true;
      if (inFlight || timer !== undefined || options.paused?.peek()) return;
      const wait = Math.max(0, lastStart + minIntervalMs - Date.now());
      timer = setTimeout(() => {
        timer = undefined;
        if (wanted && !options.paused?.peek()) run();
      }, wait);
    };

    run();
    scheduled.current = schedule;
    const stops: (() => void)[] = [];
    if (options.refreshOn) {
      let first = true;
      stops.push(options.refreshOn.subscribe(() => {
        if (first) first = false;
        else schedule();
      }));
    }
    if (options.paused) {
      stops.push(options.paused.subscribe((paused) => {
        if (!paused && wanted) schedule();
      }));
    }
    if (options.intervalMs) {
      const interval = setInterval(schedule, options.intervalMs);
      stops.push(() => clearInterval(interval));
    }
    return () => {
      controller.abort();
      clearTimeout(timer);
      for (const stop of stops) stop();
    };
  }, [key]);

  return { data, error, loading, dataKey, refresh: () => scheduled.current() };
}
