/**
 * An HTTP reverse proxy on a free loopback port that holds the requests a
 * predicate picks for a while before forwarding them, e.g. the simulator's
 * agent starts, which answer in milliseconds where an SSH start (upload,
 * exec, takeover reply) takes a second or more. A caller that aborts while
 * its request is held or forwarded aborts the forwarded request too.
 *
 * ```ts
 * await using proxy = startDelayingProxy(sim.settings.EQUINIX_API_URL, {
 *   delayMs: 1000, delays: (url) => url.pathname.endsWith("/agent") });
 * env.EQUINIX_API_URL = proxy.rewrite(sim.settings.EQUINIX_API_URL);
 * ```
 *
 * @module
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface DelayingProxyOptions {
  delayMs: number;
  /** Which requests to hold (the others are forwarded at once). */
  delays(url: URL, method: string): boolean;
}

export interface DelayingProxy extends AsyncDisposable {
  /** Requests held so far. */
  readonly delayed: number;
  /** `url` (on the target's origin) with the proxy's origin instead. */
  rewrite(url: string): string;
  close(): Promise<void>;
}

/** Starts a proxy to the origin of `target`. */
export function startDelayingProxy(target: string, options: DelayingProxyOptions): DelayingProxy {
  const origin = new URL(target).origin;
  let delayed = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    // The caller's abort, followed only until the reply is made (the request's signal also aborts after a reply).
    const caller = new AbortController();
    const onAbort = () => caller.abort();
    request.signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (options.delays(url, request.method)) {
        delayed++;
        await sleep(options.delayMs, undefined, { signal: caller.signal }).catch(() => {});
        if (caller.signal.aborted) return new Response(null, { status: 499 }); // the caller is gone: nothing forwarded
      }
      const reply = await fetch(`${origin}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body: request.body ? await request.arrayBuffer() : undefined,
        signal: caller.signal,
      });
      return new Response(await reply.arrayBuffer(), { status: reply.status, headers: reply.headers });
    } catch (error) {
      return new Response(`proxy: ${(error as Error).message}`, { status: 502 });
    } finally {
      request.signal.removeEventListener("abort", onAbort);
    }
  });
  const proxyOrigin = `http://127.0.0.1:${server.addr.port}`;
  const close = async () => {
    await server.shutdown();
  };
  return {
    get delayed() {
      return delayed;
    },
    rewrite: (url) => url.replace(origin, proxyOrigin),
    close,
    [Symbol.asyncDispose]: close,
  };
}
