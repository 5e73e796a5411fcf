/**
 * The Metal API simulator for tests, checked against the official OpenAPI
 * file: every reply it gives is validated against the operation's response
 * schema, and every request body a client sent that got a 2xx against the
 * operation's request schema. `close()` fails the test if anything did not
 * conform.
 *
 * ```ts
 * await using sim = await startCheckedSimulator({ reservations: 3 });
 * using client = new EquinixClient({ baseUrl: sim.url, token: sim.token, projectId: sim.projectId, apiRate: 0 });
 * await client.listReservations({ signal });
 * // leaving the scope closes it; an AssertionError lists non-conforming exchanges
 * ```
 *
 * Statuses the file does not declare for an operation are problems, with two
 * exceptions whose body must still match `components/schemas/Error`:
 * - replies produced by an injected fault (`exchange.fault`: 5xx, 429, an
 *   injected status): the real API can answer any call that way, and the file
 *   declares neither 429 nor 5xx anywhere;
 * - the few statuses the simulator gives on purpose where the real API does
 *   too but the file is silent ({@link UNDECLARED_BY_DESIGN}).
 *
 * @module
 */
import { AssertionError } from "node:assert";
import { type Exchange, type Simulator, type SimulatorOptions, startSimulator } from "../../equinix/simulator/mod.ts";
import { EquinixClient, type EquinixClientOptions } from "../../equinix/mod.ts";
import { loadMetalOpenApi, type MetalOpenApi } from "./openapi.ts";

/** A simulator that records every exchange and checks it against the OpenAPI file. */
export interface CheckedSimulator extends Simulator {
  /** Every API request so far, in the order their replies were decided. */
  readonly exchanges: readonly Exchange[];
  /** One line per problem of a non-conforming exchange so far; empty when all conform. */
  conformanceProblems(): string[];
}

/**
 * `"<operationId> <status>"` pairs the file does not declare that the
 * simulator answers anyway, as the real API does; their bodies are checked
 * against components/schemas/Error.
 */
export const UNDECLARED_BY_DESIGN: ReadonlyMap<string, string> = new Map([
  ["findProjects 422", "page or per_page out of range"],
  ["findProjectDevices 422", "page or per_page out of range"],
  ["findProjectHardwareReservations 422", "page or per_page out of range"],
  ["findProjectSSHKeys 404", "unknown project"],
  ["createProjectSSHKey 404", "unknown project"],
]);

/**
 * Starts a simulator (see `startSimulator`) whose exchanges are recorded and
 * checked. `options.onExchange` is still called.
 * @throws {AssertionError} from `close()` (after the simulator has closed) when an exchange did not conform
 */
export async function startCheckedSimulator(options: SimulatorOptions = {}): Promise<CheckedSimulator> {
  const api = await loadMetalOpenApi();
  const exchanges: Exchange[] = [];
  const simulator = await startSimulator({
    ...options,
    onExchange: (exchange) => {
      exchanges.push(exchange);
      options.onExchange?.(exchange);
    },
  });
  const conformanceProblems = () => exchanges.flatMap((exchange, i) => exchangeProblems(api, exchange, i));
  const close = async () => {
    await simulator.close();
    const problems = conformanceProblems();
    if (problems.length > 0) {
      throw new AssertionError({
        message: `${problems.length} problem(s) with the simulator's exchanges against the Metal OpenAPI file:\n` +
          problems.map((p) => `  - ${p}`).join("\n"),
      });
    }
  };
  // The simulator is a plain object of values: a copy with close() replaced keeps everything else.
  return { ...simulator, exchanges, conformanceProblems, close, [Symbol.asyncDispose]: close };
}

/**
 * The problems of one exchange, each prefixed with where it happened:
 * `#3 GET /metal/v1/devices/… → 200 (findDeviceById): /state must be …`.
 */
export function exchangeProblems(api: MetalOpenApi, exchange: Exchange, index: number): string[] {
  const where = `#${index} ${exchange.method} ${exchange.url} → ${exchange.status} (${exchange.operationId})`;
  if (exchange.operationId === "unknown") return [`${where}: not an operation the simulator serves`];
  const problems: string[] = [];
  const declared = api.operation(exchange.operationId).statuses.includes(String(exchange.status));
  const excused = exchange.fault !== undefined && exchange.fault !== "lost-reply"
    ? `injected fault ${exchange.fault}`
    : UNDECLARED_BY_DESIGN.get(`${exchange.operationId} ${exchange.status}`);
  if (!declared && excused) {
    problems.push(...api.validateSchema("Error", exchange.responseBody).map((p) => `Error body: ${p}`));
  } else {
    problems.push(...api.validateResponse(exchange.operationId, exchange.status, exchange.responseBody));
  }
  if (exchange.status >= 200 && exchange.status < 300) {
    problems.push(...api.validateRequest(exchange.operationId, exchange.requestBody).map((p) => `request: ${p}`));
  }
  return problems.map((p) => `${where}: ${p}`);
}

/**
 * A client of `sim` for tests: no API rate and short retry backoffs, so
 * injected faults cost milliseconds; `options` override any of it.
 */
export function simulatorClient(
  sim: { url: string; token: string; projectId: string },
  options: Partial<EquinixClientOptions> = {},
): EquinixClient {
  return new EquinixClient({
    baseUrl: sim.url,
    token: sim.token,
    projectId: sim.projectId,
    apiRate: 0,
    initialBackoffMs: 5,
    maxBackoffMs: 20,
    ...options,
  });
}
