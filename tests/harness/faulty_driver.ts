/**
 * A driver between a Bmdb and its real one that fails the statements it is
 * told to, as a lost connection would: a statement runs and its reply is
 * replaced by an error without a SQLSTATE, or it fails before it is sent. It
 * can also hold a statement's reply until the test lets it go, and it records
 * what it sent and which replies it returned. Inside transactions (`begin`),
 * only "before sending" faults apply, and nothing is recorded.
 *
 * ```ts
 * let faulty: FaultyDriver;
 * bmdbTest("...", async (t) => { faulty.fail(isClaim, "after running"); ... },
 *   { wrapDriver: (inner) => (faulty = new FaultyDriver(inner)).driver });
 * ```
 *
 * @module
 */
import type { Driver } from "../../bmdb/driver.ts";
import { DatabaseError } from "../../bmdb/mod.ts";

export interface Fault {
  matches: (text: string) => boolean;
  when: "after running" | "before sending";
  code: string;
}

/** A driver that fails or holds the statements it is told to, and records what it sent and answered. */
export class FaultyDriver {
  readonly sent: string[] = [];
  /** Statements whose reply reached the BMDB, in that order. */
  readonly answered: string[] = [];
  readonly #faults: Fault[] = [];
  readonly #holds: { matches: (text: string) => boolean; released: Promise<void> }[] = [];
  readonly driver: Driver;

  constructor(inner: Driver) {
    this.driver = {
      kind: inner.kind,
      dialect: inner.dialect,
      target: inner.target,
      query: async (text, params, isolation) => {
        const i = this.#faults.findIndex((f) => f.matches(text));
        const fault = this.#faults[i];
        if (fault?.when === "before sending") {
          this.#faults.splice(i, 1);
          throw new DatabaseError(`injected: ${fault.code}`, fault.code);
        }
        this.sent.push(text);
        const rows = await inner.query(text, params, isolation);
        // A claim statement loses its reply once it locked a machine (a claim walks
        // from a random start, and its first statement may find nothing).
        if (fault && rows.some((r) => Number(r.__claimed ?? 1) > 0)) {
          this.#faults.splice(i, 1);
          throw new DatabaseError(`injected: ${fault.code}`, fault.code);
        }
        const h = this.#holds.findIndex((hold) => hold.matches(text));
        if (h >= 0) await this.#holds.splice(h, 1)[0].released;
        this.answered.push(text);
        return rows;
      },
      // Inside a transaction only "before sending" faults apply (what the reads' and the operators' statements see).
      begin: async (options) => {
        const tx = await inner.begin(options);
        return {
          query: (text, params) => {
            const i = this.#faults.findIndex((f) => f.when === "before sending" && f.matches(text));
            if (i >= 0) {
              const [fault] = this.#faults.splice(i, 1);
              return Promise.reject(new DatabaseError(`injected: ${fault.code}`, fault.code));
            }
            return tx.query(text, params);
          },
          exec: (script) => tx.exec(script),
          commit: () => tx.commit(),
          rollback: () => tx.rollback(),
        };
      },
      listenForChanges: inner.listenForChanges?.bind(inner),
      close: () => inner.close(),
    };
  }

  /** The next statement that `matches` fails with `code` (a connection error unless told otherwise). */
  fail(matches: (text: string) => boolean, when: Fault["when"], code = "CONNECTION_CLOSED"): void {
    this.#faults.push({ matches, when, code });
  }

  /**
   * The next statement that `matches` runs, and its reply waits until the
   * returned function is called (a reply slow to come back).
   */
  hold(matches: (text: string) => boolean): () => void {
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#holds.push({ matches, released: promise });
    return () => resolve();
  }
}

/** A claim statement (not a finish-and-claim). */
export const isClaim = (text: string) => text.includes("'Started'") && !text.includes("'Finished'");
/** A finish statement (not a finish-and-claim). */
export const isFinish = (text: string) => text.includes("'Finished'") && !text.includes("'Started'");
/** The session's release of work it does not know of. */
export const isRelease = (text: string) => text.includes("NOT IN (SELECT * FROM unnest(");
