/**
 * A logger that drops everything, for tests that check behaviour, not log lines.
 *
 * @module
 */
import type { Logger } from "../../bmdb/mod.ts";

export const quietLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
