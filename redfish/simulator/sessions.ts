/**
 * The SessionService's sessions: created by POST with the BMC's credentials,
 * used by their `X-Auth-Token`, ended by DELETE or by idling longer than
 * the timeout. Expiry is checked when sessions are looked at (no timers).
 *
 * @module
 */

/** One open session. */
export interface Session {
  readonly id: string;
  /** The `X-Auth-Token` value. */
  readonly token: string;
  readonly userName: string;
  readonly createdAt: Date;
  /** The last request made with its token (or its creation). */
  lastUsedAt: Date;
}

/** The open sessions of one BMC. */
export class SessionStore {
  readonly #byToken = new Map<string, Session>();
  readonly #timeoutMs: number;
  #created = 0;
  #maxOpen = 0;

  constructor(readonly maxSessions: number, readonly timeoutSeconds: number) {
    this.#timeoutMs = timeoutSeconds * 1000;
  }

  /** Sessions created since start. */
  get created(): number {
    return this.#created;
  }

  /** The most sessions open at once since start. */
  get maxOpen(): number {
    return this.#maxOpen;
  }

  /** Open sessions now. */
  get open(): number {
    this.#expire();
    return this.#byToken.size;
  }

  /** A new session, or undefined when `maxSessions` are open. */
  create(userName: string): Session | undefined {
    if (this.open >= this.maxSessions) return undefined;
    const now = new Date();
    const session: Session = {
      id: randomHex(8),
      token: randomHex(16),
      userName,
      createdAt: now,
      lastUsedAt: now,
    };
    this.#byToken.set(session.token, session);
    this.#created++;
    this.#maxOpen = Math.max(this.#maxOpen, this.#byToken.size);
    return session;
  }

  /** The live session with this token, which counts as used now; undefined when there is none (or it expired). */
  use(token: string): Session | undefined {
    this.#expire();
    const session = this.#byToken.get(token);
    if (session) session.lastUsedAt = new Date();
    return session;
  }

  /** The live session with this id. */
  get(id: string): Session | undefined {
    return this.list().find((s) => s.id === id);
  }

  /** Live sessions, oldest first. */
  list(): Session[] {
    this.#expire();
    return [...this.#byToken.values()];
  }

  /** Ends the session with this id; false when there is none. */
  delete(id: string): boolean {
    const session = this.get(id);
    if (session) this.#byToken.delete(session.token);
    return session !== undefined;
  }

  /** When a session expires if left idle from now on. */
  expiresAt(session: Session): Date {
    return new Date(session.lastUsedAt.getTime() + this.#timeoutMs);
  }

  #expire(): void {
    const now = Date.now();
    for (const [token, session] of this.#byToken) {
      if (now - session.lastUsedAt.getTime() >= this.#timeoutMs) this.#byToken.delete(token);
    }
  }
}

/** `bytes` random bytes as lower-case hex. */
function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}
