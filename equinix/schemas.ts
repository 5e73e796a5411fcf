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
 * Nested objects the API returns as a bare reference ({@linkcode Reference})
 * unless the request `include`s them: a reservation's device is a full
 * {@linkcode Device} when included, else its reference.
 *
 * @module
 */
import { z } from "zod";

/** The one UUID check of the client: ids in replies, and ids given to the client and the CLI. */
const UuidSchema = z.uuid();

/** Whether `text` is a UUID as the client accepts one (the same check as the ids of replies). */
export function isUuid(text: string): boolean {
  return UuidSchema.safeParse(text).success;
}

/** The id at the end of an `href` such as `/metal/v1/devices/<uuid>`, or undefined. */
export function idFromHref(href: string | undefined): string | undefined {
  const last = href?.split("/").pop();
  return last !== undefined && isUuid(last) ? last : undefined;
}

/** components/schemas/Href: a reference to another object. */
const HrefSchema = z.object({ href: z.string() });

/**
 * Another object as the API gives it when it is not `include`d: its `href`
 * (components/schemas/Href), and its `id`, which the parse fills in from the
 * `href` when the reply has none.
 */
export interface Reference {
  href?: string;
  id?: string;
}
const REFERENCE_FIELDS = { href: z.string().optional(), id: UuidSchema.optional() };
const withId = (r: Reference): Reference => r.id !== undefined ? r : { ...r, id: idFromHref(r.href) };
const ReferenceSchema = z.object(REFERENCE_FIELDS).transform(withId);

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

/** components/schemas/Metro. */
const MetroSchema = z.object({
  id: UuidSchema.optional(),
  code: z.string().optional(),
  name: z.string().optional(),
  country: z.string().optional(),
});
export type Metro = z.infer<typeof MetroSchema>;

/** components/schemas/Facility (the fields Drover reads): a reservation's metro is its facility's. */
const FacilitySchema = z.object({
  id: UuidSchema.optional(),
  code: z.string().optional(),
  name: z.string().optional(),
  metro: MetroSchema.optional(),
});
export type Facility = z.infer<typeof FacilitySchema>;

/** components/schemas/Plan (the fields Drover reads). */
const PlanSchema = z.object({
  id: UuidSchema.optional(),
  slug: z.string().optional(),
  name: z.string().optional(),
});
export type Plan = z.infer<typeof PlanSchema>;

/** components/schemas/IPAssignment (the fields Drover reads). */
const IPAssignmentSchema = z.object({
  id: UuidSchema.optional(),
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
const DEVICE_STATES = [
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

/** components/schemas/Device (the fields Drover reads). */
export const DeviceSchema = z.object({
  id: UuidSchema,
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
  hardware_reservation: ReferenceSchema.optional(),
  operating_system: z.object({ slug: z.string().optional(), name: z.string().optional() }).optional(),
  locked: z.boolean().optional(),
});
export type Device = z.infer<typeof DeviceSchema>;

/** components/schemas/DeviceList. */
export const DeviceListSchema = z.object({
  devices: z.array(DeviceSchema),
  meta: MetaSchema.optional(),
});

/** components/schemas/HardwareReservation (the fields Drover reads). */
export const HardwareReservationSchema = z.object({
  id: UuidSchema,
  href: z.string().optional(),
  short_id: z.string().optional(),
  created_at: z.iso.datetime({ offset: true }).optional(),
  provisionable: z.boolean().optional(),
  spare: z.boolean().optional(),
  need_of_service: z.boolean().optional(),
  plan: PlanSchema.optional(),
  facility: FacilitySchema.optional(),
  /**
   * The device in full when the request asked for `include=device`, else its
   * reference; told apart by `state` (in code: `"state" in device`), so an
   * included device that does not parse fails the reply naming its fields.
   */
  device: z.discriminatedUnion("state", [
    DeviceSchema,
    z.object({ ...REFERENCE_FIELDS, state: z.undefined().optional() }).transform(withId),
  ]).optional(),
  project: ReferenceSchema.optional(),
});
export type HardwareReservation = z.infer<typeof HardwareReservationSchema>;

/** components/schemas/HardwareReservationList. */
export const HardwareReservationListSchema = z.object({
  hardware_reservations: z.array(HardwareReservationSchema),
  meta: MetaSchema.optional(),
});

/** components/schemas/SSHKey. */
export const SSHKeySchema = z.object({
  id: UuidSchema,
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

/** components/schemas/Project (the fields Drover reads). */
export const ProjectSchema = z.object({
  id: UuidSchema,
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
