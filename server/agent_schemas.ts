/**
 * The agent API's request bodies (agent/protocol.ts), as zod schemas: what a
 * request must hold to be looked at at all.
 *
 * @module
 */
import { z } from "zod";

const machineId = z.uuid({ error: "must be a UUID" });
// Offset required: a time without one would be read in this server's zone.
const sentAt = z.iso.datetime({ offset: true, precision: 3, error: "must be an ISO 8601 time with milliseconds" });
const count = z.int().min(0).max(2 ** 53 - 1);
const name = z.string().min(1).max(256);

export const heartbeatRequestSchema = z.strictObject({ machineId, sentAt });

export const hardwareReportSchema = z.strictObject({
  cpu: z.strictObject({ model: z.string().max(256), cores: count, threads: count }),
  memoryBytes: count,
  disks: z.array(z.strictObject({
    name,
    sizeBytes: count,
    model: z.string().max(256).nullable(),
    rotational: z.boolean().nullable(),
  })).max(1024),
  nics: z.array(z.strictObject({
    name,
    mac: z.string().max(64).nullable(),
    speedMbps: count.nullable(),
  })).max(1024),
  simulated: z.boolean(),
});

export const hardwareReportRequestSchema = z.strictObject({ machineId, sentAt, report: hardwareReportSchema });
