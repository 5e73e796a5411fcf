/**
 * A loopback TCP load balancer in front of Drover replicas, as an operator
 * puts one in front of theirs: machines' agents reach one address
 * (`DROVER_AGENT_URL`) whichever replicas run. Each new connection goes to
 * the next backend in turn; a backend that refuses it is skipped. A rolling
 * upgrade drains a replica (removes it here) before stopping it and adds its
 * successor once it serves; connections already open stay where they are
 * until either end closes them.
 *
 * ```ts
 * await using balancer = startBalancer();
 * balancer.add(replicaPort);
 * env.DROVER_AGENT_URL = balancer.endpoint;
 * balancer.remove(replicaPort); // drained: new connections go elsewhere
 * ```
 *
 * @module
 */

/** A running balancer on a free loopback port. */
export interface Balancer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** New connections may go to `127.0.0.1:<port>`. */
  add(port: number): void;
  /** New connections no longer go to `port`. */
  remove(port: number): void;
  /** Connections that found no backend that accepted them. */
  readonly refused: number;
  /** Stops listening and closes every connection. Idempotent. */
  close(): Promise<void>;
}

export function startBalancer(): Balancer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const backends: number[] = [];
  const open = new Set<Deno.Conn>();
  const pipes = new Set<Promise<void>>();
  let turn = 0;
  let refused = 0;
  let closing: Promise<void> | undefined;

  const closeQuietly = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  /** The next backend in turn that accepts a connection, or undefined when none does. */
  const connectNext = async (): Promise<Deno.Conn | undefined> => {
    for (let tried = 0; tried < backends.length; tried++) {
      const target = backends[turn++ % backends.length];
      try {
        return await Deno.connect({ hostname: "127.0.0.1", port: target });
      } catch {
        // stopping or not serving yet: the next one
      }
    }
    return undefined;
  };
  const forward = async (client: Deno.Conn) => {
    const server = await connectNext();
    if (!server) {
      refused++;
      closeQuietly(client);
      return;
    }
    open.add(server);
    await Promise.all([pump(client, server), pump(server, client)]).catch(() => {});
    closeQuietly(client);
    closeQuietly(server);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      const pipe = forward(conn);
      pipes.add(pipe);
      pipe.finally(() => pipes.delete(pipe));
    }
  })().catch(() => {});

  const close = () =>
    closing ??= (async () => {
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const conn of [...open]) closeQuietly(conn);
      await accepting;
      await Promise.all(pipes);
    })();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    add(target) {
      if (!backends.includes(target)) backends.push(target);
    },
    remove(target) {
      const i = backends.indexOf(target);
      if (i >= 0) backends.splice(i, 1);
    },
    get refused() {
      return refused;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Copies `from` to `to` until `from` ends, then closes both (so the other direction's read ends too). */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      for (let written = 0; written < n;) written += await to.write(buffer.subarray(written, n));
    }
  } finally {
    try {
      to.close();
    } catch { /* already closed */ }
    try {
      from.close();
    } catch { /* already closed */ }
  }
}
