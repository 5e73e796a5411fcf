/**
 * Request bodies the simulator accepts, as zod schemas that follow the
 * OpenAPI request schemas (DeviceCreateInMetroInput, performAction's body,
 * SSHKeyCreateInput, SSHKeyInput), plus what the real API insists on beyond
 * the file (non-empty strings where an empty one makes no sense). A body
 * that does not parse is refused with 422 and one "<field>: <what was
 * wrong>" message per problem; nothing is changed.
 *
 * @module
 */
import { z } from "zod";
import { unprocessable } from "./api_error.ts";
import type { DeviceAction, DeviceCreation } from "./state.ts";

const nonEmpty = z.string().min(1, "must not be empty");

/** components/schemas/SSHKeyInput. */
const SSHKeyInputSchema = z.object({
  label: nonEmpty.optional(),
  key: nonEmpty.optional(),
  tags: z.array(z.string()).optional(),
});

/** components/schemas/SSHKeyCreateInput, with label and key required (the real API needs both). */
const SSHKeyCreateInputSchema = z.object({
  label: nonEmpty,
  key: nonEmpty,
  tags: z.array(z.string()).optional(),
  instances_ids: z.array(z.uuid()).optional(),
});

/** components/schemas/DeviceCreateInMetroInput (MetroInput + DeviceCreateInput). */
const DeviceCreateInMetroInputSchema = z.object({
  metro: nonEmpty,
  plan: nonEmpty,
  operating_system: nonEmpty,
  hardware_reservation_id: z.string().optional(),
  hostname: z.string().optional(),
  description: z.string().optional(),
  tags: z.array(z.string()).optional(),
  userdata: z.string().optional(),
  customdata: z.record(z.string(), z.unknown()).optional(),
  always_pxe: z.boolean().optional(),
  billing_cycle: z.enum(["hourly", "daily", "monthly", "yearly"]).optional(),
  features: z.array(z.string()).optional(),
  ip_addresses: z.array(z.object({
    address_family: z.union([z.literal(4), z.literal(6)]).optional(),
    cidr: z.int().optional(),
    ip_reservations: z.array(z.string()).optional(),
    public: z.boolean().optional(),
  })).optional(),
  ipxe_script_url: z.string().optional(),
  locked: z.boolean().optional(),
  network_frozen: z.boolean().optional(),
  no_ssh_keys: z.boolean().optional(),
  private_ipv4_subnet_size: z.int().optional(),
  public_ipv4_subnet_size: z.int().optional(),
  project_ssh_keys: z.array(z.uuid()).optional(),
  user_ssh_keys: z.array(z.uuid()).optional(),
  ssh_keys: z.array(SSHKeyInputSchema).optional(),
  spot_instance: z.boolean().optional(),
  spot_price_max: z.number().optional(),
  storage: z.record(z.string(), z.unknown()).optional(),
  termination_time: z.iso.datetime({ offset: true }).optional(),
  // DeviceCreateInFacilityInput is deprecated; a body naming a facility is refused (see deviceCreation).
  facility: z.unknown().optional(),
});

/** performAction's inline request body. */
const ActionInputSchema = z.object({
  type: z.enum(["power_on", "power_off", "reboot", "rescue", "reinstall"]),
  force_delete: z.boolean().optional(),
  deprovision_fast: z.boolean().optional(),
  preserve_data: z.boolean().optional(),
  operating_system: z.string().optional(),
  ipxe_script_url: z.string().optional(),
});

/**
 * The JSON of a request body; undefined for an empty body.
 * @throws {ApiError} 422 for malformed JSON
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw unprocessable(`(body): malformed JSON: ${(error as SyntaxError).message}`);
  }
}

/**
 * A createDevice body as a device creation. The simulator serves reserved
 * hardware only: a body without `hardware_reservation_id` is refused.
 * @throws {ApiError} 422 when the body is not a DeviceCreateInMetroInput the simulator serves
 */
export function deviceCreation(body: unknown): DeviceCreation {
  const input = checkBody(DeviceCreateInMetroInputSchema, body);
  if (input.facility !== undefined) {
    throw unprocessable("facility: the simulator accepts only metro (DeviceCreateInMetroInput), not facility");
  }
  if (!input.hardware_reservation_id) {
    throw unprocessable(
      "hardware_reservation_id: is required: the simulator serves reserved hardware only (no on-demand devices)",
    );
  }
  return {
    hardwareReservationId: input.hardware_reservation_id,
    metro: input.metro,
    plan: input.plan,
    operatingSystem: input.operating_system,
    hostname: input.hostname,
    description: input.description,
    tags: input.tags,
    userdata: input.userdata,
  };
}

/** @throws {ApiError} 422 when the body is not a performAction body */
export function deviceAction(body: unknown): DeviceAction {
  return checkBody(ActionInputSchema, body).type;
}

/** @throws {ApiError} 422 when label or key is missing or empty */
export function sshKeyCreation(body: unknown): z.infer<typeof SSHKeyCreateInputSchema> {
  return checkBody(SSHKeyCreateInputSchema, body);
}

/** @throws {ApiError} 422 when the body is not an SSHKeyInput */
export function sshKeyUpdate(body: unknown): z.infer<typeof SSHKeyInputSchema> {
  return checkBody(SSHKeyInputSchema, body);
}

/**
 * The body parsed with `schema` (the admin endpoint's bodies too).
 * @throws {ApiError} 422 with one "<field>: <what was wrong>" message per problem
 */
export function checkBody<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body, {
    error: (issue) => issue.input === undefined ? "is required" : undefined,
  });
  if (result.success) return result.data;
  throw unprocessable(...result.error.issues.map(describeIssue));
}

/** "tags[0]: Invalid input: expected string, received number"; "(body): …" for the body itself. */
function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.reduce<string>(
    (path, key) => typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${String(key)}` : String(key),
    "",
  );
  return `${field || "(body)"}: ${issue.message}`;
}
