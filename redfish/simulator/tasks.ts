/**
 * The TaskService's tasks: one per Reset answered 202, running until the
 * power transition it started is over. Its task monitor answers 202 while
 * it runs, then 204 (the Reset's own reply, which has no body).
 *
 * @module
 */
import type { ResetType } from "./config.ts";
import type { TransitionEnd } from "./system.ts";

/** Completed tasks kept for GET; older ones are forgotten (a long benchmark makes many). */
const KEPT_FINISHED = 100;

/** One task. */
export interface Task {
  readonly id: string;
  readonly systemId: string;
  readonly resetType: ResetType;
  readonly startedAt: Date;
  readonly expectedMs: number;
  /** Set when the transition is over. */
  endedAt?: Date;
  /** "interrupted": another power change (or the close) came first. */
  end?: TransitionEnd;
}

/** The tasks of one BMC. */
export class TaskStore {
  readonly #tasks = new Map<string, Task>();
  #next = 1;

  /** A running task that ends when `settled` resolves. */
  start(
    { systemId, resetType, expectedMs, settled }: {
      systemId: string;
      resetType: ResetType;
      expectedMs: number;
      settled: Promise<TransitionEnd>;
    },
  ): Task {
    const task: Task = { id: String(this.#next++), systemId, resetType, startedAt: new Date(), expectedMs };
    this.#tasks.set(task.id, task);
    // `settled` never rejects.
    settled.then((end) => {
      task.end = end;
      task.endedAt = new Date();
      this.#forgetOld();
    });
    return task;
  }

  /** The task with this id, if kept. */
  get(id: string): Task | undefined {
    return this.#tasks.get(id);
  }

  /** Every task kept, oldest first. */
  list(): Task[] {
    return [...this.#tasks.values()];
  }

  #forgetOld(): void {
    const finished = this.list().filter((t) => t.endedAt !== undefined);
    for (const task of finished.slice(0, Math.max(0, finished.length - KEPT_FINISHED))) this.#tasks.delete(task.id);
  }
}

/** The task's URI. */
export function taskPath(id: string): string {
  return `/redfish/v1/TaskService/Tasks/${id}`;
}

/** The task monitor's URI (the `Location` of a 202). */
export function taskMonitorPath(id: string): string {
  return `/redfish/v1/TaskService/TaskMonitors/${id}`;
}
