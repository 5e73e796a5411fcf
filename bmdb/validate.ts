/**
 * Input checks for the BMDB's public functions. Each throws
 * {@linkcode InvalidArgumentError} naming the field, before anything reaches
 * the database, so bad input never writes anything.
 *
 * @module
 */
import { InvalidArgumentError } from "./errors.ts";
import { type Process, PROCESSES, type Provider, PROVIDER_STATUSES, PROVIDERS, type ProviderStatus } from "./model.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (value instanceof Date) return `Date(${Number.isNaN(value.getTime()) ? "invalid" : value.toISOString()})`;
  return typeof value;
}

/** A UUID string, returned in lower case (as the database prints it). */
export function uuid(field: string, value: unknown): string {
  if (typeof value !== "string" || !UUID.test(value)) {
    throw new InvalidArgumentError(field, `must be a UUID: current value is ${describe(value)}`);
  }
  return value.toLowerCase();
}

/** One of the `allowed` strings. */
export function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new InvalidArgumentError(field, `must be one of ${allowed.join(", ")}: current value is ${describe(value)}`);
  }
  return value as T;
}

export function process(field: string, value: unknown): Process {
  return oneOf(field, value, PROCESSES);
}

export function provider(field: string, value: unknown): Provider {
  return oneOf(field, value, PROVIDERS);
}

export function providerStatus(field: string, value: unknown): ProviderStatus {
  return oneOf(field, value, PROVIDER_STATUSES);
}

/** A non-empty string without NUL bytes, at most `maxLength` characters. */
export function text(field: string, value: unknown, { maxLength = 1024 } = {}): string {
  if (typeof value !== "string") {
    throw new InvalidArgumentError(field, `must be a string: current value is ${describe(value)}`);
  }
  if (value.trim() === "") throw new InvalidArgumentError(field, "must not be empty");
  if (value.length > maxLength) {
    throw new InvalidArgumentError(field, `must be at most ${maxLength} characters: current length is ${value.length}`);
  }
  // deno-lint-ignore no-control-regex
  if (/\u0000/.test(value)) throw new InvalidArgumentError(field, "must not contain NUL characters");
  return value;
}

/** Like {@linkcode text}, but `undefined` and `null` pass through as `null`. */
export function optionalText(field: string, value: unknown, options?: { maxLength?: number }): string | null {
  return value === undefined || value === null ? null : text(field, value, options);
}

/** A finite number `>= min`. */
export function finite(field: string, value: unknown, { min = 0 } = {}): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new InvalidArgumentError(field, `must be a finite number: current value is ${describe(value)}`);
  }
  if (value < min) throw new InvalidArgumentError(field, `must be >= ${min}: current value is ${value}`);
  return value;
}

/** An integer in `[min, max]`. */
export function integer(field: string, value: unknown, { min, max }: { min: number; max: number }): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new InvalidArgumentError(field, `must be an integer: current value is ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new InvalidArgumentError(field, `must be between ${min} and ${max}: current value is ${value}`);
  }
  return value;
}

/** A valid `Date`. */
export function date(field: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidArgumentError(field, `must be a valid Date: current value is ${describe(value)}`);
  }
  return value;
}

/** A `Uint8Array` of at most `maxBytes`. */
export function bytes(field: string, value: unknown, { maxBytes = 16 * 1024 * 1024 } = {}): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(field, `must be a Uint8Array: current value is ${describe(value)}`);
  }
  if (value.byteLength > maxBytes) {
    throw new InvalidArgumentError(field, `must be at most ${maxBytes} bytes: current size is ${value.byteLength}`);
  }
  return value;
}

/** An array of at most `maxLength` entries (unchecked: the caller checks each). */
export function array(field: string, value: unknown, { maxLength }: { maxLength: number }): readonly unknown[] {
  if (!Array.isArray(value)) {
    throw new InvalidArgumentError(field, `must be an array: current value is ${describe(value)}`);
  }
  if (value.length > maxLength) {
    throw new InvalidArgumentError(field, `must hold at most ${maxLength} entries: current length is ${value.length}`);
  }
  return value;
}

/** A plain object (the options argument of a public function). */
export function options<T extends object>(field: string, value: T | undefined): T {
  if (value === null || typeof value !== "object") {
    throw new InvalidArgumentError(field, `must be an object: current value is ${describe(value)}`);
  }
  return value;
}

export function boolean(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw new InvalidArgumentError(field, `must be true or false: current value is ${describe(value)}`);
  }
  return value;
}

/** A string of 1..`maxLength` characters matching `pattern`, which `rule` describes. */
export function matching(field: string, value: unknown, pattern: RegExp, rule: string, maxLength = 128): string {
  if (typeof value !== "string" || value.length === 0 || value.length > maxLength || !pattern.test(value)) {
    throw new InvalidArgumentError(field, `must be ${rule}: current value is ${describe(value)}`);
  }
  return value;
}
