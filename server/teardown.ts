/**
 * Stopping what was started, newest first: the service's shutdown order.
 *
 * @module
 */
import type { Logger } from "../bmdb/mod.ts";

/** Stops what has started, newest first, whatever fails. */
export class Teardown {
  readonly #steps: { name: string; run: () => unknown }[] = [];
  /** The step running now, if any. */
  current: string | undefined;
  constructor(private readonly logger: Logger) {}

  add(name: string, run: () => unknown): void {
    this.#steps.push({ name, run });
  }

  async run(): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      const started = performance.now();
      this.current = step.name;
      try {
        await step.run();
        this.logger.debug("stopped", { step: step.name, ms: Math.round(performance.now() - started) });
      } catch (error) {
        this.logger.warn("shutdown step failed", { step: step.name, error });
      }
    }
    this.current = undefined;
  }
}
