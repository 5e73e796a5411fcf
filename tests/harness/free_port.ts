/**
 * Free loopback ports for throwaway services.
 *
 * @module
 */

/** A free TCP port on 127.0.0.1 (bound and released; a small race we accept for tests). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
