/**
 * Server-sent events for every dashboard: one watcher per live source (the
 * change feed's values, the reservations, the provisioner's status) feeds
 * all clients. Each event gets the next id; the last `replayLimit` events
 * are kept, so a client reconnecting with `Last-Event-ID` gets what it
 * missed, or a full snapshot when that is no longer held. A comment line
 * every `keepaliveMs` keeps proxies from closing idle streams. A client
 * whose queue reaches `maxQueuedEvents` is dropped (its EventSource
 * reconnects and resumes), so a slow client never costs unbounded memory.
 *
 * @module
 */
import type { Value, Watcher } from "../event/mod.ts";

/** The live sources, by event name. Each value is sent as the event's JSON data. */
export type LiveSources = Record<string, Value<unknown>>;

export interface EventHubOptions {
  /** Events kept for replay. @default 512 */
  replayLimit?: number;
  /** Events queued for one client before it is dropped. @default 256 */
  maxQueuedEvents?: number;
  /** @default 15000 */
  keepaliveMs?: number;
}

interface HubEvent {
  id: number;
  name: string;
  /** The encoded SSE frame. */
  frame: Uint8Array;
}

const encoder = new TextEncoder();

function frameOf(id: number, name: string, data: unknown): Uint8Array {
  return encoder.encode(`id: ${id}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

const KEEPALIVE = encoder.encode(": keepalive\n\n");

export class EventHub {
  readonly #sources: LiveSources;
  readonly #latest = new Map<string, unknown>();
  readonly #replay: HubEvent[] = [];
  readonly #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  readonly #watchers: Watcher<unknown>[] = [];
  readonly #replayLimit: number;
  readonly #maxQueued: number;
  readonly #keepalive: ReturnType<typeof setInterval>;
  #seq = 0;
  #closed = false;
  /** Clients dropped for falling behind, since start. */
  dropped = 0;

  constructor(sources: LiveSources, options: EventHubOptions = {}) {
    this.#sources = sources;
    this.#replayLimit = options.replayLimit ?? 512;
    this.#maxQueued = options.maxQueuedEvents ?? 256;
    this.#keepalive = setInterval(() => this.#broadcast(KEEPALIVE), options.keepaliveMs ?? 15_000);
    for (const [name, value] of Object.entries(sources)) this.#follow(name, value);
  }

  /** Clients connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** The newest value of every source that has one. */
  snapshot(): Record<string, unknown> {
    return Object.fromEntries(this.#latest);
  }

  async #follow(name: string, value: Value<unknown>): Promise<void> {
    const watcher = value.watch();
    this.#watchers.push(watcher);
    try {
      for await (const v of watcher) {
        this.#latest.set(name, v);
        const id = ++this.#seq;
        const event = { id, name, frame: frameOf(id, name, v) };
        this.#replay.push(event);
        if (this.#replay.length > this.#replayLimit) this.#replay.shift();
        this.#broadcast(event.frame);
      }
    } catch {
      // closed
    }
  }

  #broadcast(frame: Uint8Array): void {
    for (const client of this.#clients) this.#send(client, frame);
  }

  #send(client: ReadableStreamDefaultController<Uint8Array>, frame: Uint8Array): void {
    if ((client.desiredSize ?? 0) <= 0) {
      // Fallen behind by maxQueued events: drop it rather than buffer on.
      this.dropped++;
      this.#clients.delete(client);
      try {
        client.close();
      } catch {
        // already closed
      }
      return;
    }
    client.enqueue(frame);
  }

  /**
   * A stream for one client. With `lastEventId` still in the replay buffer,
   * it starts with the events after it; otherwise with a snapshot.
   */
  stream(lastEventId?: string): ReadableStream<Uint8Array> {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => {
        this.#clients.delete(controller);
      },
    }, new CountQueuingStrategy({ highWaterMark: this.#maxQueued }));
    if (this.#closed) {
      controller.close();
      return stream;
    }
    const last = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
    const oldest = this.#replay[0]?.id ?? this.#seq + 1;
    if (last !== undefined && last <= this.#seq && last >= oldest - 1) {
      for (const event of this.#replay) if (event.id > last) controller.enqueue(event.frame);
    } else {
      controller.enqueue(frameOf(this.#seq, "snapshot", this.snapshot()));
    }
    this.#clients.add(controller);
    return stream;
  }

  /** Ends every stream and stops watching (call before the HTTP server's shutdown, which waits for open streams). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    for (const watcher of this.#watchers) watcher.close();
    for (const client of this.#clients) {
      try {
        client.close();
      } catch {
        // already closed
      }
    }
    this.#clients.clear();
  }
}
