/**
 * What the simulator takes for a UUID: the OpenAPI file's `format: uuid`
 * (any version, as ajv-formats checks it).
 *
 * @module
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" in hex digits. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
