/**
 * The Metal API's JSON shapes (snake_case, as the API sends them), as zod
 * schemas that follow `reference/equinix-metal-openapi.yaml`.
 *
 * The OpenAPI file marks almost nothing as required. These schemas require
 * only what Drover cannot work without (an object's `id`, a device's
 * `state`), so a reply missing those is a clear parse error at the call that
 * received it, not a crash later; every other field is optional, as in the
 * OpenAPI file. Unknown fields are dropped.
 *
 * Nested objects the API returns as a bare reference unless `include`d (a
 * reservation's device, a device's reservation) are typed as such: an object
 * with `href` and whatever else was included.
 *
 * @module
 */
import { z } from "zod";

/** components/schemas/Href: a reference to another object. */
export const HrefSchema = z.object({ href: z.string() });
export type Href = z.infer<typeof HrefSchema>;

/** components/schemas/Meta: the pagination block of list replies. */
export const MetaSchema = z.object({
  first: HrefSchema.optional(),
  last: HrefSchema.optional(),
  next: HrefSchema.optional(),
  previous: HrefSchema.optional(),
  self: HrefSchema.optional(),
  total: z.number().int().optional(),
  current_page: z.number().int().optional(),
  last_page: z.number().int().optional(),
});
export type Meta = z.infer<typeof MetaSchema>;

/** components/schemas/Error: "Either `error` or `errors` will be set." */
export const ErrorBodySchema = z.object({
  error: z.string().optional(),
  errors: z.array(z.string()).optional(),
});
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

/** components/schemas/Metro. */
export const MetroSchema = z.object({
  id: z.uuid().optional(),
  code: z.string().optional(),
  name: z.string().optional(),
  country: z.string().optional(),
});
export type Metro = z.infer<typeof MetroSchema>;

/** components/schemas/Facility (the fields Drover reads): a reservation's metro is its facility's. */
export const FacilitySchema = z.object({
  id: z.uuid().optional(),
  code: z.string().optional(),
  name: z.string().optional(),
  metro: MetroSchema.optional(),
});
export type Facility = z.infer<typeof FacilitySchema>;

/** components/schemas/Plan (the fields Drover reads). */
export const PlanSchema = z.object({
  id: z.uuid().optional(),
  slug: z.string().optional(),
  name: z.string().optional(),
});
export type Plan = z.infer<typeof PlanSchema>;

/** components/schemas/IPAssignment (the fields Drover reads). */
export const IPAssignmentSchema = z.object({
  id: z.uuid().optional(),
  address: z.string().optional(),
  address_family: z.number().int().optional(),
  cidr: z.number().int().optional(),
  gateway: z.string().optional(),
  netmask: z.string().optional(),
  public: z.boolean().optional(),
  management: z.boolean().optional(),
});
export type IPAssignment = z.infer<typeof IPAssignmentSchema>;

/** components/schemas/Device `state`. */
export const DEVICE_STATES = [
  "queued",
  "provisioning",
  "deprovisioning",
  "reinstalling",
  "active",
  "inactive",
  "failed",
  "powering_on",
  "powering_off",
  "deleted",
] as const;
export type DeviceState = typeof DEVICE_STATES[number];

/** A reference to an object, with whatever of it the reply included. */
const included = <T extends z.ZodRawShape>(shape: T) => HrefSchema.partial().extend(shape).partial();

/** components/schemas/Device (the fields Drover reads). */
export const DeviceSchema = z.object({
  id: z.uuid(),
  href: z.string().optional(),
  short_id: z.string().optional(),
  hostname: z.string().optional(),
  description: z.string().optional(),
  state: z.enum(DEVICE_STATES),
  tags: z.array(z.string()).optional(),
  created_at: z.iso.datetime({ offset: true }).optional(),
  updated_at: z.iso.datetime({ offset: true }).optional(),
  ip_addresses: z.array(IPAssignmentSchema).optional(),
  metro: MetroSchema.optional(),
  facility: FacilitySchema.optional(),
  plan: PlanSchema.optional(),
  hardware_reservation: included({ id: z.uuid() }).optional(),
  operating_system: z.object({ slug: z.string().optional(), name: z.string().optional() }).optional(),
  locked: z.boolean().optional(),
});
export type Device = z.infer<typeof DeviceSchema>;

/** components/schemas/DeviceList. */
export const DeviceListSchema = z.object({
  devices: z.array(DeviceSchema),
  meta: MetaSchema.optional(),
});
export type DeviceList = z.infer<typeof DeviceListSchema>;

/** components/schemas/HardwareReservation (the fields Drover reads). */
export const HardwareReservationSchema = z.object({
  id: z.uuid(),
  href: z.string().optional(),
  short_id: z.string().optional(),
  created_at: z.iso.datetime({ offset: true }).optional(),
  provisionable: z.boolean().optional(),
  spare: z.boolean().optional(),
  need_of_service: z.boolean().optional(),
  plan: PlanSchema.optional(),
  facility: FacilitySchema.optional(),
  /** A reference unless the request asked for `include=device`; then the device's fields too. */
  device: included({ id: z.uuid(), state: z.enum(DEVICE_STATES), tags: z.array(z.string()), hostname: z.string() })
    .optional(),
  project: included({ id: z.uuid() }).optional(),
});
export type HardwareReservation = z.infer<typeof HardwareReservationSchema>;

/** components/schemas/HardwareReservationList. */
export const HardwareReservationListSchema = z.object({
  hardware_reservations: z.array(HardwareReservationSchema),
  meta: MetaSchema.optional(),
});
export type HardwareReservationList = z.infer<typeof HardwareReservationListSchema>;

/** components/schemas/SSHKey. */
export const SSHKeySchema = z.object({
  id: z.uuid(),
  href: z.string().optional(),
  label: z.string().optional(),
  key: z.string().optional(),
  fingerprint: z.string().optional(),
  tags: z.array(z.string()).optional(),
  created_at: z.iso.datetime({ offset: true }).optional(),
  updated_at: z.iso.datetime({ offset: true }).optional(),
});
export type SSHKey = z.infer<typeof SSHKeySchema>;

/** components/schemas/SSHKeyList. */
export const SSHKeyListSchema = z.object({ ssh_keys: z.array(SSHKeySchema) });
export type SSHKeyList = z.infer<typeof SSHKeyListSchema>;

/** components/schemas/Project (the fields Drover reads). */
export const ProjectSchema = z.object({
  id: z.uuid(),
  name: z.string().optional(),
  href: z.string().optional(),
});
export type Project = z.infer<typeof ProjectSchema>;

/**
 * What `createDevice` sends: components/schemas/DeviceCreateInMetroInput,
 * the fields Drover uses. `hardware_reservation_id` is required here (the
 * client refuses to create a device without one).
 */
export interface DeviceCreateRequest {
  metro: string;
  plan: string;
  operating_system: string;
  hardware_reservation_id: string;
  hostname?: string;
  description?: string;
  tags?: string[];
  userdata?: string;
  project_ssh_keys?: string[];
}

/** What `createSSHKey` sends: components/schemas/SSHKeyCreateInput (label and key set). */
export interface SSHKeyCreateRequest {
  label: string;
  key: string;
  tags?: string[];
}

/** What `updateSSHKey` sends: components/schemas/SSHKeyInput. */
export interface SSHKeyUpdateRequest {
  label?: string;
  key?: string;
  tags?: string[];
}

/** The id at the end of an `href` such as `/metal/v1/devices/<uuid>`, or undefined. */
export function idFromHref(href: string | undefined): string | undefined {
  const last = href?.split("/").pop();
  return last !== undefined && z.uuid().safeParse(last).success ? last : undefined;
}
