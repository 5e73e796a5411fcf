/**
 * The control-loop runner on a real BMDB: every machine processed exactly
 * once by parallel workers, failures back off with a cause naming the loop,
 * an operator's cancel and a shutdown stop processing and release the work
 * as Canceled, sessions are closed, and claims wait on the shared limiter.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import {
  type Bmdb,
  type LogFields,
  type Logger,
  type MachineProvided,
  Process,
  WorkCanceledError,
} from "../../bmdb/mod.ts";
import { type ControlLoop, loopMetrics, LoopRunner, TokenBucket } from "../../loops/mod.ts";
import { defaultMaxIdleWaitMs } from "../../loops/runner.ts";
import { bmdbTest, countRows } from "../harness/bmdb.ts";
import { FaultyDriver, isClaim, isFinish } from "../harness/faulty_driver.ts";
import { addMachines, agentStarted, forAgentStart } from "../harness/fleet.ts";
import { aborted, waitFor, within } from "../harness/wait.ts";
import { quietLogger } from "../harness/quiet_logger.ts";

/** A loop over the agent-start workflow whose processing the test supplies. */
function agentStartLoop(
  processMachine: (machine: MachineProvided, signal: AbortSignal) => Promise<void>,
): ControlLoop<MachineProvided> {
  return {
    name: "test-initializer",
    process: Process.ShepherdAgentStart,
    backoff: { initialSeconds: 60, maximumSeconds: 600, exponent: 2 },
    retrieve: forAgentStart,
    async processMachine(machine, signal) {
      await processMachine(machine, signal);
      return (q) => agentStarted(q, machine.machineId);
    },
  };
}

interface Running {
  runner: LoopRunner<MachineProvided>;
  registry: Registry;
  stop(): Promise<void>;
}

function start(
  bmdb: Bmdb,
  loop: ControlLoop<MachineProvided>,
  options: {
    parallelism?: number;
    limiter?: TokenBucket;
    idleWaitMs?: number;
    maxIdleWaitMs?: number;
    finishAndClaimBelow?: number;
    errorPauseMs?: number;
    logger?: Logger;
  } = {},
): Running {
  const registry = new Registry();
  const runner = new LoopRunner(bmdb, loop, {
    parallelism: options.parallelism ?? 1,
    limiter: options.limiter ?? new TokenBucket({ intervalMs: 1, burst: 100 }),
    idleWaitMs: options.idleWaitMs ?? 50,
    maxIdleWaitMs: options.maxIdleWaitMs,
    finishAndClaimBelow: options.finishAndClaimBelow,
    errorPauseMs: options.errorPauseMs,
    sessionIntervalSeconds: 1,
    metrics: loopMetrics(registry),
    logger: options.logger ?? quietLogger,
  });
  const controller = new AbortController();
  const done = runner.run(controller.signal);
  return {
    runner,
    registry,
    async stop() {
      controller.abort(new Error("test over"));
      await within(done, 5000, "the runner's shutdown");
    },
  };
}

/** Adds `n` provided machines (through a session of their own, closed after). */
async function seedMachines(bmdb: Bmdb, n: number): Promise<string[]> {
  const setup = await bmdb.startSession();
  try {
    return await addMachines(setup, n);
  } finally {
    await setup.close();
  }
}

async function counter(registry: Registry, name: string): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  return metric?.values.reduce((n, v) => n + v.value, 0) ?? 0;
}

// 12 workers: from FINISH_AND_CLAIM_BELOW on, each worker claims its next machine while its finish is in flight.
for (const parallelism of [1, 3, 12]) {
  bmdbTest(
    `${parallelism} worker(s) process each of 12 machines exactly once, then close their sessions`,
    async (t) => {
      const ids = await seedMachines(t.bmdb, 12);
      const seen = new Map<string, number>();
      const running = start(
        t.bmdb,
        agentStartLoop((machine) => {
          seen.set(machine.machineId, (seen.get(machine.machineId) ?? 0) + 1);
          return Promise.resolve();
        }),
        { parallelism },
      );
      try {
        await waitFor(
          async () => await countRows(t, "SELECT count(*) FROM machine_agent_started") === 12,
          { what: "12 machines with their agent started" },
        );
      } finally {
        await running.stop();
      }
      assert.deepEqual([...seen.keys()].sort(), [...ids].sort());
      assert.ok([...seen.values()].every((n) => n === 1), `each machine once: ${JSON.stringify([...seen.values()])}`);
      assert.equal(await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Finished'"), 12);
      assert.equal(await counter(running.registry, "drover_loop_finishes_total"), 12);
      assert.equal(await counter(running.registry, "drover_loop_claims_total"), 12);
      assert.equal(await countRows(t, "SELECT count(*) FROM sessions"), 0, "every worker closed its session");
    },
  );
}

bmdbTest(
  "an idle worker waits twice as long after each empty claim, up to its maximum; work found resets the wait",
  async (t) => {
    const claims: number[] = [];
    const processed = Promise.withResolvers<void>();
    const loop = agentStartLoop(() => {
      processed.resolve();
      return Promise.resolve();
    });
    const retrieve = loop.retrieve;
    loop.retrieve = (q) => {
      claims.push(performance.now());
      return retrieve(q);
    };
    const running = start(t.bmdb, loop, { idleWaitMs: 50, maxIdleWaitMs: 800 });
    try {
      await waitFor(() => claims.length >= 7, { timeoutMs: 10_000, what: "seven empty claims" });
      const gaps = claims.slice(1, 7).map((at, i) => at - claims[i]);
      // 50, 100, 200, 400, 800, 800 ms: never shorter (a shorter gap would be a poll the backoff should have saved).
      [50, 100, 200, 400, 800, 800].forEach((wait, i) =>
        assert.ok(gaps[i] >= wait * 0.9, `gap ${i + 1} was ${Math.round(gaps[i])} ms, expected at least ${wait}`)
      );
      assert.ok(gaps[5] < 800 * 3, `gap 6 was ${Math.round(gaps[5])} ms: the wait grew past its maximum`);

      // Work appears: it is claimed at the next poll, and the wait after it starts again from 50 ms.
      await seedMachines(t.bmdb, 1);
      await processed.promise;
      const afterWork = claims.length;
      await waitFor(() => claims.length >= afterWork + 2, {
        timeoutMs: 10_000,
        what: "two empty claims after the work",
      });
      const gapAfterWork = claims[afterWork + 1] - claims[afterWork];
      assert.ok(gapAfterWork < 800, `the first wait after work was ${Math.round(gapAfterWork)} ms, not reset to 50`);
    } finally {
      await running.stop();
    }
  },
);

// The next test's driver (bmdbTest runs a file's tests one at a time).
let faulty: FaultyDriver;

bmdbTest(
  "a claim whose reply was lost does not strand its machine: the worker's session releases it and goes on",
  async (t) => {
    const [machineId] = await seedMachines(t.bmdb, 1);
    faulty.fail(isClaim, "after running");
    const running = start(t.bmdb, agentStartLoop(() => Promise.resolve()));
    try {
      // The first claim took the machine, its reply "lost"; the worker's session stays alive (heartbeating), so
      // without releasing it the machine would wait for that session's end: for good.
      await waitFor(async () => await countRows(t, "SELECT count(*) FROM machine_agent_started") === 1, {
        timeoutMs: 10_000,
        what: "the machine processed after the lost reply",
      });
      assert.equal(await counter(running.registry, "drover_loop_errors_total"), 1);
    } finally {
      await running.stop();
    }
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => h.event), ["Started", "Canceled", "Started", "Finished"]);
    assert.equal(new Set(history.map((h) => h.sessionId)).size, 1, "one session throughout");
  },
  { wrapDriver: (inner) => (faulty = new FaultyDriver(inner)).driver },
);

bmdbTest(
  "overlapped: the next claim goes out while the finish is in flight, and the next machine waits for that finish",
  async (t) => {
    await seedMachines(t.bmdb, 2);
    const release = faulty.hold(isFinish);
    // For each machine processed: how many finishes had been answered by then.
    const finishesAnsweredAtProcess: number[] = [];
    const running = start(
      t.bmdb,
      agentStartLoop(() => {
        finishesAnsweredAtProcess.push(faulty.answered.filter(isFinish).length);
        return Promise.resolve();
      }),
      { finishAndClaimBelow: 1 },
    );
    try {
      // The second machine claimed (a claim may take two statements) while the first finish's reply is held.
      await waitFor(async () => await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Started'") === 2, {
        what: "the second machine claimed",
      });
      const finishSent = faulty.sent.findIndex(isFinish);
      const sent = faulty.sent.map((text) => isFinish(text) ? "finish" : isClaim(text) ? "claim" : "other");
      assert.ok(finishSent > 0 && faulty.sent.slice(finishSent + 1).some(isClaim), sent.join(", "));
      assert.ok(!faulty.answered.some(isFinish), "the finish's reply is held");
      assert.equal(finishesAnsweredAtProcess.length, 1, "the second machine waits for the finish");
      release();
      await waitFor(async () => await countRows(t, "SELECT count(*) FROM machine_agent_started") === 2, {
        what: "both machines finished",
      });
      assert.deepEqual(finishesAnsweredAtProcess, [0, 1], "the second machine processed after the finish's reply");
    } finally {
      release();
      await running.stop();
    }
    assert.equal(await counter(running.registry, "drover_loop_finishes_total"), 2);
    assert.equal(await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Finished'"), 2);
  },
  { wrapDriver: (inner) => (faulty = new FaultyDriver(inner)).driver },
);

bmdbTest(
  "overlapped: a finish whose reply was lost is counted as an error, and the machine claimed meanwhile is still processed",
  async (t) => {
    await seedMachines(t.bmdb, 3);
    faulty.fail(isFinish, "after running");
    const seen: string[] = [];
    const errors: string[] = [];
    const logger = {
      ...quietLogger,
      error: (message: string, fields?: LogFields) => {
        errors.push(`${message}: ${fields?.error}`);
      },
    };
    const running = start(
      t.bmdb,
      agentStartLoop((machine) => {
        seen.push(machine.machineId);
        return Promise.resolve();
      }),
      { finishAndClaimBelow: 1, errorPauseMs: 20, logger },
    );
    try {
      await waitFor(async () => await countRows(t, "SELECT count(*) FROM machine_agent_started") === 3, {
        what: "all three machines finished",
      });
    } finally {
      await running.stop();
    }
    assert.equal(new Set(seen).size, 3, `each machine processed once: ${seen.join(", ")}`);
    assert.equal(seen.length, 3, `each machine processed once: ${seen.join(", ")}`);
    assert.equal(await counter(running.registry, "drover_loop_errors_total"), 1);
    // The log says which machine's finish failed (the first one processed), and why.
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(
      errors[0],
      new RegExp(
        `^loop error; pausing: Loop test-initializer: finishing machine ${seen[0]} \\(ShepherdAgentStart\\) failed: `,
      ),
    );
    assert.equal(await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Finished'"), 3);
    assert.equal(await countRows(t, "SELECT count(*) FROM work"), 0, "no active work left");
    assert.equal(await countRows(t, "SELECT count(*) FROM sessions"), 0);
  },
  { wrapDriver: (inner) => (faulty = new FaultyDriver(inner)).driver },
);

bmdbTest(
  "overlapped: shutdown waits for the finish in flight before closing the session",
  async (t) => {
    await seedMachines(t.bmdb, 1);
    const release = faulty.hold(isFinish);
    // One token: the next claim waits for the limiter, where shutdown finds the worker while its finish is held.
    const limiter = new TokenBucket({ intervalMs: 60_000, burst: 1 });
    const running = start(t.bmdb, agentStartLoop(() => Promise.resolve()), { finishAndClaimBelow: 1, limiter });
    await waitFor(() => faulty.sent.some(isFinish), { what: "the finish sent" });
    const stopped = running.stop();
    // Nothing to await here: the point is what does not happen (the worker closing its session, which would
    // release the machine as Canceled) while the finish is held.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await countRows(t, "SELECT count(*) FROM sessions"), 1);
    release();
    await stopped;
    const history = await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Finished'");
    assert.equal(history, 1, "the finish landed, not a Canceled release");
    assert.equal(await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Canceled'"), 0);
    assert.equal(await countRows(t, "SELECT count(*) FROM sessions"), 0);
  },
  { wrapDriver: (inner) => (faulty = new FaultyDriver(inner)).driver },
);

bmdbTest("a processing error fails the work with the loop's backoff and a cause that says what failed", async (t) => {
  const [machineId] = await seedMachines(t.bmdb, 1);
  let attempts = 0;
  const failed = Promise.withResolvers<void>();
  const running = start(
    t.bmdb,
    agentStartLoop(() => {
      attempts++;
      failed.resolve();
      return Promise.reject(new Error("ssh: connection refused", { cause: new Error("ECONNREFUSED 10.0.0.7:22") }));
    }),
  );
  try {
    await failed.promise;
    const backoffs = await waitFor(async () => {
      const rows = await t.bmdb.read((q) => q.workBackoffOf({ machineId, process: Process.ShepherdAgentStart }));
      return rows.length > 0 && rows;
    }, { what: "a backoff" });
    assert.equal(backoffs[0].cause, "test-initializer failed: ssh: connection refused: ECONNREFUSED 10.0.0.7:22");
    assert.equal(backoffs[0].lastIntervalSeconds, 60);
    // Idle polls go on, but the machine in backoff is not picked again.
    await waitFor(async () => await counter(running.registry, "drover_loop_idle_polls_total") >= 3, {
      what: "three idle polls",
    });
    assert.equal(attempts, 1);
    assert.equal(await counter(running.registry, "drover_loop_failures_total"), 1);
  } finally {
    await running.stop();
  }
  const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
  assert.deepEqual(history.map((h) => h.event), ["Started", "Failed"]);
});

bmdbTest(
  "an operator's cancel aborts processing and releases the machine as Canceled, without a backoff",
  async (t) => {
    const [machineId] = await seedMachines(t.bmdb, 1);
    const processing = Promise.withResolvers<AbortSignal>();
    let calls = 0;
    const running = start(
      t.bmdb,
      agentStartLoop(async (_machine, signal) => {
        if (++calls > 1) return; // picked again after the cancel: let it finish
        processing.resolve(signal);
        await aborted(signal);
        throw signal.reason;
      }),
    );
    try {
      const signal = await processing.promise;
      await t.bmdb.requestWorkCancel({ machineId, process: Process.ShepherdAgentStart, actor: "alice" });
      const reason = await within(aborted(signal), 2000, "the processing signal's abort");
      assert.ok(reason instanceof WorkCanceledError && reason.actor === "alice", `reason: ${reason}`);
      await waitFor(async () => await countRows(t, "SELECT count(*) FROM machine_agent_started") === 1, {
        what: "the machine picked again and finished",
      });
    } finally {
      await running.stop();
    }
    const history = await t.bmdb.read((q) => q.listHistoryOf({ machineId }));
    assert.deepEqual(history.map((h) => [h.event, h.actor]), [
      ["Started", null],
      ["Canceled", "alice"],
      ["Started", null],
      ["Finished", null],
    ]);
    assert.equal(await counter(running.registry, "drover_loop_failures_total"), 0);
  },
);

bmdbTest("shutdown aborts processing, releases held work as Canceled and closes every session", async (t) => {
  await seedMachines(t.bmdb, 3);
  const started: AbortSignal[] = [];
  const allStarted = Promise.withResolvers<void>();
  const running = start(
    t.bmdb,
    agentStartLoop(async (_machine, signal) => {
      started.push(signal);
      if (started.length === 3) allStarted.resolve();
      await aborted(signal);
      throw signal.reason;
    }),
    { parallelism: 3 },
  );
  await allStarted.promise;
  await running.stop();
  assert.ok(started.every((s) => s.aborted));
  assert.equal(await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Canceled'"), 3);
  assert.equal(await countRows(t, "SELECT count(*) FROM work_history WHERE event = 'Failed'"), 0);
  assert.equal(await countRows(t, "SELECT count(*) FROM work_backoff"), 0);
  assert.equal(await countRows(t, "SELECT count(*) FROM sessions"), 0);
  assert.equal(await countRows(t, "SELECT count(*) FROM work"), 0, "no active work left");
});

bmdbTest("claims wait on the shared limiter: 6 claims at one per 100 ms take at least 500 ms", async (t) => {
  await seedMachines(t.bmdb, 6);
  const at: number[] = [];
  // The bucket starts with its one token: the sixth accrues 500 ms after it is made.
  const limiter = new TokenBucket({ intervalMs: 100, burst: 1 });
  const madeAt = performance.now();
  const running = start(
    t.bmdb,
    agentStartLoop(() => {
      at.push(performance.now());
      return Promise.resolve();
    }),
    { parallelism: 2, limiter },
  );
  try {
    await waitFor(() => at.length === 6, { what: "six machines processed" });
  } finally {
    await running.stop();
  }
  const spanMs = at[5] - madeAt;
  assert.ok(spanMs >= 500 - 5, `6 claims with one token per 100 ms and a burst of 1 took ${spanMs.toFixed(0)} ms`);
});

Deno.test("an idle worker waits at most one session interval by default (released work is claimed within it)", () => {
  assert.equal(defaultMaxIdleWaitMs(1000, 5), 5000, "8 s capped at the 5 s session interval");
  assert.equal(defaultMaxIdleWaitMs(250, 5), 2000, "8 × 250 ms is below the session interval");
  assert.equal(defaultMaxIdleWaitMs(1000, 60), 8000);
  assert.equal(defaultMaxIdleWaitMs(3000, 1), 3000, "never below idleWaitMs");
});
