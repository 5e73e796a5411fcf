/**
 * The state of one simulated BMC: its systems, sessions and tasks, and the
 * identity its resources show (UUIDs, credentials).
 *
 * @module
 */
import type { BmcConfig } from "./config.ts";
import { SessionStore } from "./sessions.ts";
import { System } from "./system.ts";
import { TaskStore } from "./tasks.ts";

/** One BMC's state (the HTTP side reads and changes it). */
export class Bmc {
  readonly config: BmcConfig;
  readonly systems: readonly System[];
  /** Undefined when `auth` is "basic": there is no SessionService. */
  readonly sessions: SessionStore | undefined;
  readonly tasks = new TaskStore();
  /** The service root's UUID. */
  readonly uuid = crypto.randomUUID();
  /** The manager's own UUID. */
  readonly managerUuid = crypto.randomUUID();
  readonly #byId: ReadonlyMap<string, System>;

  constructor(config: BmcConfig) {
    this.config = config;
    this.systems = config.systems.map((system) => new System(system));
    this.#byId = new Map(this.systems.map((s) => [s.id, s]));
    this.sessions = config.auth === "session"
      ? new SessionStore(config.maxSessions, config.sessionTimeoutSeconds)
      : undefined;
  }

  /** The system with this member Id, if any. */
  system(id: string): System | undefined {
    return this.#byId.get(id);
  }

  /** True for the BMC's user name and password. */
  checkCredentials(userName: unknown, password: unknown): boolean {
    return userName === this.config.username && password === this.config.password;
  }

  /** Stops every system's transitions and aborts their programs. */
  close(): void {
    for (const system of this.systems) system.close();
  }
}
