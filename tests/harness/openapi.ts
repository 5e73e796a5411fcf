/**
 * The official Metal API description (`equinix/reference/equinix-metal-openapi.yaml`)
 * as validators: does a reply, or a request body, conform to what the file
 * declares for its operation?
 *
 * ```ts
 * const api = await loadMetalOpenApi();
 * api.validateResponse("findDeviceById", 200, body); // [] or ["/state must be equal to one of …"]
 * api.validateRequest("createDevice", { metro: "sv" }); // ["(body) must have required property 'plan'", …]
 * ```
 *
 * The file is parsed once per process (parse only: it does not pass
 * swagger-parser's strict `validate`). Its `components` are added to ajv as
 * one schema; each operation's schema is compiled on first use, with its
 * `#/components/…` references pointed at that schema, and cached. The
 * document is never dereferenced as a whole (it is circular).
 *
 * @module
 */
import SwaggerParser from "@apidevtools/swagger-parser";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { fileURLToPath } from "node:url";

/** The OpenAPI file the simulator and the client follow. */
export const METAL_OPENAPI_PATH = fileURLToPath(
  new URL("../../equinix/reference/equinix-metal-openapi.yaml", import.meta.url),
);

/** The `$id` under which the document's components are known to ajv. */
const COMPONENTS_ID = "metal-openapi";

const HTTP_METHODS = ["get", "put", "post", "delete", "patch", "head", "options"] as const;

/** The parts of an OpenAPI 3.0 document read here. */
interface MediaType {
  schema?: Record<string, unknown>;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
}
interface OperationObject {
  operationId?: string;
  requestBody?: { required?: boolean; content?: Record<string, MediaType> };
  responses?: Record<string, ResponseObject>;
}
interface OpenApiDocument {
  paths: Record<string, Partial<Record<typeof HTTP_METHODS[number], OperationObject>>>;
  components: Record<string, unknown>;
}

/** An operation of the document: where it lives and what it declares. */
export interface MetalOperation {
  readonly operationId: string;
  /** Upper case, e.g. "GET". */
  readonly method: string;
  /** As in the file, e.g. "/devices/{id}". */
  readonly pathTemplate: string;
  /** The declared response statuses, e.g. ["200", "401", "404"]. */
  readonly statuses: readonly string[];
}

/** Validators for the Metal API's operations and component schemas. */
export interface MetalOpenApi {
  /** The operation with this id. @throws {RangeError} when the file has none. */
  operation(operationId: string): MetalOperation;
  /**
   * Problems with a reply: a status the operation does not declare, a body
   * where none is declared (or none where one is), or a body that does not
   * match the declared schema. Empty when the reply conforms.
   */
  validateResponse(operationId: string, status: number, body: unknown): string[];
  /** Problems with a request body against the operation's request body schema. Empty when it conforms. */
  validateRequest(operationId: string, body: unknown): string[];
  /** Problems with a value against `components/schemas/<name>`, e.g. "Error". */
  validateSchema(name: string, value: unknown): string[];
}

let loading: Promise<MetalOpenApi> | undefined;

/** The Metal API description, parsed once per process (about 150 ms the first time). */
export function loadMetalOpenApi(): Promise<MetalOpenApi> {
  loading ??= parseMetalOpenApi();
  return loading;
}

async function parseMetalOpenApi(): Promise<MetalOpenApi> {
  const document = await SwaggerParser.parse(METAL_OPENAPI_PATH) as unknown as OpenApiDocument;
  return new MetalOpenApiValidators(document);
}

class MetalOpenApiValidators implements MetalOpenApi {
  readonly #operations = new Map<string, MetalOperation & { object: OperationObject }>();
  readonly #ajv: Ajv;
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor(document: OpenApiDocument) {
    for (const [pathTemplate, item] of Object.entries(document.paths)) {
      for (const method of HTTP_METHODS) {
        const object = item[method];
        if (!object?.operationId) continue;
        this.#operations.set(object.operationId, {
          operationId: object.operationId,
          method: method.toUpperCase(),
          pathTemplate,
          statuses: Object.keys(object.responses ?? {}),
          object,
        });
      }
    }
    // strict: false because the file uses OpenAPI keywords ajv does not know (example, x-…, discriminator).
    this.#ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(this.#ajv);
    // OpenAPI's numeric formats are descriptive; "string" and "datetime" are slips in the file.
    for (const format of ["int32", "int64", "float", "double", "string", "datetime"]) {
      this.#ajv.addFormat(format, true);
    }
    this.#ajv.addSchema({ $id: COMPONENTS_ID, components: document.components });
  }

  operation(operationId: string): MetalOperation {
    const { object: _, ...rest } = this.#operation(operationId);
    return rest;
  }

  validateResponse(operationId: string, status: number, body: unknown): string[] {
    const { object, statuses } = this.#operation(operationId);
    const declared = object.responses?.[String(status)] ?? object.responses?.["default"];
    if (!declared) return [`status ${status} is not declared (declared: ${statuses.join(", ")})`];
    const schema = declared.content?.["application/json"]?.schema;
    if (!schema) return body === undefined ? [] : [`status ${status} declares no body, but one was sent`];
    if (body === undefined) return [`status ${status} declares a JSON body, but none was sent`];
    return this.#check(`${operationId} ${status}`, schema, body);
  }

  validateRequest(operationId: string, body: unknown): string[] {
    const { object } = this.#operation(operationId);
    const schema = object.requestBody?.content?.["application/json"]?.schema;
    if (!schema) return body === undefined ? [] : ["the operation takes no request body, but one was sent"];
    if (body === undefined) return object.requestBody?.required ? ["the request body is required"] : [];
    return this.#check(`${operationId} request`, schema, body);
  }

  validateSchema(name: string, value: unknown): string[] {
    return this.#check(`schema ${name}`, { $ref: `#/components/schemas/${name}` }, value);
  }

  #operation(operationId: string): MetalOperation & { object: OperationObject } {
    const operation = this.#operations.get(operationId);
    if (!operation) throw new RangeError(`The Metal OpenAPI file has no operation "${operationId}"`);
    return operation;
  }

  /** Validates `value` against `schema` (compiled once per `key`). */
  #check(key: string, schema: Record<string, unknown>, value: unknown): string[] {
    let validate = this.#compiled.get(key);
    if (!validate) {
      validate = this.#ajv.compile(pointAtComponents(schema));
      this.#compiled.set(key, validate);
    }
    // A oneOf reports each branch's errors; the same message twice says nothing new.
    return validate(value) ? [] : [...new Set((validate.errors ?? []).map(describeError))];
  }
}

/** A copy of an operation's schema whose local `#/…` references point into the components schema. */
function pointAtComponents(schema: unknown): Record<string, unknown> {
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== "object") return node;
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) =>
        key === "$ref" && typeof value === "string" && value.startsWith("#/")
          ? [key, `${COMPONENTS_ID}${value}`]
          : [key, rewrite(value)]
      ),
    );
  };
  return rewrite(schema) as Record<string, unknown>;
}

/** "/devices/0/state must be equal to one of the allowed values: queued, provisioning, …". */
function describeError(error: ErrorObject): string {
  const where = error.instancePath || "(body)";
  const allowed = error.keyword === "enum"
    ? `: ${(error.params as { allowedValues: unknown[] }).allowedValues.join(", ")}`
    : "";
  return `${where} ${error.message ?? error.keyword}${allowed}`;
}
