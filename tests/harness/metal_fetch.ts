/**
 * Raw HTTP calls to a Metal API simulator, for tests that check what goes
 * over the wire (the client has its own tests): the body is always read, so
 * no response leaks.
 *
 * ```ts
 * const { status, body } = await metalFetch(sim, "GET", `/devices/${id}`);
 * await metalFetch(sim, "POST", "/projects/x/ssh-keys", { body: { label: "a", key: "…" } });
 * await metalFetch(sim, "GET", "/projects", { token: null }); // no X-Auth-Token
 * ```
 *
 * @module
 */

/** A reply: status, headers and the parsed JSON body (undefined when empty). */
export interface MetalReply {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any -- tests read whatever the reply holds; typed checks are elsewhere
  body: any;
}

export interface MetalFetchOptions {
  /** JSON-encoded unless a string (sent as is, e.g. malformed JSON). */
  body?: unknown;
  /** The X-Auth-Token to send; null sends none. Default: the simulator's. */
  token?: string | null;
  signal?: AbortSignal;
}

/**
 * Calls `path` under the simulator's API base (or under its origin when the
 * path starts with "/_sim/").
 */
export async function metalFetch(
  sim: { url: string; origin: string; token: string },
  method: string,
  path: string,
  { body, token = sim.token, signal }: MetalFetchOptions = {},
): Promise<MetalReply> {
  const headers: Record<string, string> = {};
  if (token !== null) headers["X-Auth-Token"] = token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const base = path.startsWith("/_sim/") ? sim.origin : sim.url;
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    signal,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === "" ? undefined : JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path} → ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  return { status: response.status, headers: response.headers, body: parsed };
}
