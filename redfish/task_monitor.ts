/**
 * Following a Redfish task monitor: the `Location` of a 202 reply, which
 * answers 202 while the task runs and the Task (or 204) once it ended.
 *
 * @module
 */
import { abortableSleep } from "./abortable.ts";
import { seconds } from "./power_plan.ts";
import { type Task, TaskSchema } from "./schemas.ts";
import type { Transport } from "./transport.ts";

/** Task states that mean "still going" (Redfish Task.v1_7 `TaskState`). */
const RUNNING = new Set(["New", "Starting", "Running", "Suspended", "Interrupted", "Pending", "Stopping", "Service"]);

/** How to follow a task. */
export interface TaskFollowOptions {
  timeoutMs: number;
  pollIntervalMs: number;
  signal: AbortSignal;
}

/** How a task ended: ok, or what went wrong. */
export type TaskOutcome = { ok: true } | { ok: false; problem: string };

/**
 * Polls `monitor` every `pollIntervalMs` until the task ends or `timeoutMs`
 * has passed. A monitor that is gone (404) counts as ended: many BMCs delete
 * a task soon after it ends, and the power state read next is what decides.
 * Request failures are thrown (after the transport's retries).
 */
export async function followTask(
  transport: Transport,
  monitor: string,
  options: TaskFollowOptions,
): Promise<TaskOutcome> {
  const deadline = performance.now() + options.timeoutMs;
  for (;;) {
    const reply = await transport.request({
      operation: "task_monitor",
      method: "GET",
      path: monitor,
      auth: true,
      retry: "idempotent",
      accept: [404],
    }, options.signal);
    if (reply.status === 404 || reply.status === 204) return { ok: true };
    const task = parseTask(reply.text);
    const state = task?.TaskState ?? (reply.status === 202 ? "Running" : "Completed");
    if (!RUNNING.has(state) && reply.status !== 202) {
      if (state === "Completed") return { ok: true };
      const said = (task?.Messages ?? []).map((m) => m.Message).filter((m) => typeof m === "string" && m !== "");
      return {
        ok: false,
        problem: `the BMC's task ${monitor} ended ${state}${said.length > 0 ? `: ${said.join("; ")}` : ""}`,
      };
    }
    if (performance.now() >= deadline) {
      return { ok: false, problem: `the BMC's task ${monitor} was still ${state} after ${seconds(options.timeoutMs)}` };
    }
    await abortableSleep(Math.min(options.pollIntervalMs, Math.max(0, deadline - performance.now())), options.signal);
  }
}

/** The Task in a monitor's reply, if the body is one (some monitors answer 202 with no body). */
function parseTask(text: string): Task | undefined {
  try {
    const parsed = TaskSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
