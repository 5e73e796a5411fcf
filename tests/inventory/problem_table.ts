/**
 * The parsers' test tables: a problem written as line, column, path and a
 * part of the message, and the check of a parser's problems against them.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { InventoryProblem } from "../../inventory/mod.ts";

/** A problem as a table writes it: line, column, path, and a part of the message. */
export type Expected = [line: number, column: number, path: string, message: string];

/** Asserts `problems` are `expected`, in order, all in `file`; a failure lists every problem. */
export function assertProblems(problems: InventoryProblem[], expected: Expected[], file: string): void {
  const shown = problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`).join("\n");
  assert.equal(problems.length, expected.length, `problems:\n${shown}`);
  for (const [index, [line, column, path, message]] of expected.entries()) {
    const problem = problems[index];
    assert.deepEqual([problem.file, problem.line, problem.column, problem.path], [file, line, column, path], shown);
    assert.ok(problem.message.includes(message), `${JSON.stringify(problem.message)} should include ${message}`);
  }
}

/** An inventory of one machine whose lines are `lines` (the first after `  - `, the rest under it). */
export function oneMachine(...lines: string[]): string {
  return `machines:\n  - ${lines.join("\n    ")}\n`;
}
