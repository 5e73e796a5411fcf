/**
 * DMTF's Redfish JSON Schemas (`redfish/reference/json-schema/`) as
 * validators: does a reply's body conform to the schema of its resource?
 *
 * ```ts
 * const schemas = await loadRedfishSchemas();
 * schemas.validate("ComputerSystem", body); // [] or ["/PowerState must be equal to one of …: On, Off, …"]
 * schemas.validate("RedfishError", errorBody);
 * ```
 *
 * Loaded as `redfish/reference/README.md` says: Ajv 8 (`strict: false`,
 * `validateSchema: false`) with every file registered under
 * `http://redfish.dmtf.org/schemas/v1/<file name>` (Ajv registers a file's
 * own `$id` too, which is how `odata-v4.json` is also known as
 * `odata.v4_0_5.json`), and for each `$ref` to a file that is not there a
 * stand-in whose referenced definitions accept anything.
 *
 * The stand-ins make DMTF's unversioned definitions (`Message.json#/…/Message`
 * is an `anyOf` over every version, most of them stand-ins) accept anything,
 * so each kind here names its *versioned* definition, and a resource's
 * `@odata.type` is checked against that version too (the schemas do not
 * check it). "Message" checks one `@Message.ExtendedInfo` entry, which the
 * error schema reaches only through the unversioned Message.
 *
 * @module
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";

/** Where the schema files are. */
const SCHEMA_DIR = new URL("../../redfish/reference/json-schema/", import.meta.url);
/** The base URI DMTF publishes them under. */
const SCHEMA_BASE = "http://redfish.dmtf.org/schemas/v1/";

/** Each kind's schema file, definition, and the `@odata.type` a resource of the kind must carry. */
const KINDS = {
  ServiceRoot: { file: "ServiceRoot.v1_20_0.json", odataType: "#ServiceRoot.v1_20_0.ServiceRoot" },
  ComputerSystem: { file: "ComputerSystem.v1_27_0.json", odataType: "#ComputerSystem.v1_27_0.ComputerSystem" },
  ComputerSystemCollection: {
    file: "ComputerSystemCollection.json",
    odataType: "#ComputerSystemCollection.ComputerSystemCollection",
  },
  SessionService: { file: "SessionService.v1_2_0.json", odataType: "#SessionService.v1_2_0.SessionService" },
  SessionCollection: { file: "SessionCollection.json", odataType: "#SessionCollection.SessionCollection" },
  Session: { file: "Session.v1_8_0.json", odataType: "#Session.v1_8_0.Session" },
  Task: { file: "Task.v1_7_4.json", odataType: "#Task.v1_7_4.Task" },
  TaskCollection: { file: "TaskCollection.json", odataType: "#TaskCollection.TaskCollection" },
  TaskService: { file: "TaskService.v1_3_0.json", odataType: "#TaskService.v1_3_0.TaskService" },
  Manager: { file: "Manager.v1_24_0.json", odataType: "#Manager.v1_24_0.Manager" },
  ManagerCollection: { file: "ManagerCollection.json", odataType: "#ManagerCollection.ManagerCollection" },
  RedfishError: { file: "redfish-error.v1_0_2.json", odataType: undefined },
  Message: { file: "Message.v1_3_0.json", odataType: "#Message.v1_3_0.Message" },
} as const satisfies Record<string, { file: string; odataType: string | undefined }>;

/** A resource (or body) kind the validators know. */
export type RedfishKind = keyof typeof KINDS;

/** The kinds, in {@link KINDS} order. */
export const REDFISH_KINDS = Object.keys(KINDS) as RedfishKind[];

/** Validators for Redfish bodies. */
export interface RedfishSchemas {
  /**
   * Problems with `body` as a `kind` (its versioned definition, and its
   * `@odata.type` when it has one: a message's is optional). Empty when it
   * conforms.
   */
  validate(kind: RedfishKind, body: unknown): string[];
  /** The schema files that were loaded, and the stand-ins registered for the others. */
  readonly loaded: { files: readonly string[]; standIns: readonly string[] };
}

let loading: Promise<RedfishSchemas> | undefined;

/** The reference schemas, loaded once per process. */
export function loadRedfishSchemas(): Promise<RedfishSchemas> {
  loading ??= readSchemas();
  return loading;
}

async function readSchemas(): Promise<RedfishSchemas> {
  const files = new Map<string, Record<string, unknown>>();
  for await (const entry of Deno.readDir(SCHEMA_DIR)) {
    if (!entry.isFile || !entry.name.endsWith(".json")) continue;
    files.set(entry.name, JSON.parse(await Deno.readTextFile(new URL(entry.name, SCHEMA_DIR))));
  }
  return new RedfishValidators(files);
}

class RedfishValidators implements RedfishSchemas {
  readonly #ajv = new Ajv({ strict: false, validateSchema: false, allErrors: true });
  readonly #compiled = new Map<RedfishKind, ValidateFunction>();
  readonly loaded: { files: readonly string[]; standIns: readonly string[] };

  constructor(files: ReadonlyMap<string, Record<string, unknown>>) {
    addFormats.default(this.#ajv);
    const known = new Set<string>();
    for (const [name, schema] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
      this.#ajv.addSchema(schema, SCHEMA_BASE + name);
      known.add(SCHEMA_BASE + name);
      if (typeof schema.$id === "string") known.add(schema.$id.replace(/#$/, ""));
    }
    const standIns = missingReferences([...files.values()], known);
    for (const [uri, definitions] of standIns) {
      this.#ajv.addSchema({ $id: uri, definitions: Object.fromEntries([...definitions].map((d) => [d, {}])) });
    }
    this.loaded = { files: [...files.keys()].sort(), standIns: [...standIns.keys()].sort() };
  }

  validate(kind: RedfishKind, body: unknown): string[] {
    const { file, odataType } = KINDS[kind];
    let check = this.#compiled.get(kind);
    if (!check) {
      check = this.#ajv.compile({ $ref: `${SCHEMA_BASE}${file}#/definitions/${kind}` });
      this.#compiled.set(kind, check);
    }
    const problems = check(body) ? [] : [...new Set((check.errors ?? []).map(describeError))];
    const type = typeof body === "object" && body !== null
      ? (body as Record<string, unknown>)["@odata.type"]
      : undefined;
    const typeRequired = odataType !== undefined && kind !== "Message";
    if (odataType !== undefined && (typeRequired || type !== undefined) && type !== odataType) {
      problems.push(`/@odata.type must be "${odataType}": current value is ${JSON.stringify(type)}`);
    }
    return problems;
  }
}

/** Schema URIs referenced by `schemas` but not among `known`, each with the definitions referenced in it. */
function missingReferences(schemas: unknown[], known: ReadonlySet<string>): Map<string, Set<string>> {
  const missing = new Map<string, Set<string>>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "$ref" && typeof value === "string" && value.startsWith("http")) {
        const [uri, fragment = ""] = value.split("#");
        if (known.has(uri)) continue;
        const definition = /^\/definitions\/([^/]+)$/.exec(fragment)?.[1];
        const definitions = missing.get(uri) ?? new Set<string>();
        if (definition) definitions.add(definition);
        missing.set(uri, definitions);
      } else {
        visit(value);
      }
    }
  };
  schemas.forEach(visit);
  return missing;
}

/** "/PowerState must be equal to one of the allowed values: On, Off, …". */
function describeError(error: ErrorObject): string {
  const where = error.instancePath || "(body)";
  const allowed = error.keyword === "enum"
    ? `: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`
    : error.keyword === "additionalProperties"
    ? `: ${(error.params as { additionalProperty: string }).additionalProperty}`
    : "";
  return `${where} ${error.message ?? error.keyword}${allowed}`;
}
