/**
 * A loopback TCP proxy that a test can cut, to lose a client's connection
 * while the server goes on (and other clients still reach it directly).
 *
 * ```ts
 * await using proxy = startTcpProxy(7000);
 * const client = new Etcd3({ hosts: proxy.endpoint });
 * proxy.cut(); // connections drop, new ones are refused
 * proxy.restore();
 * ```
 *
 * @module
 */

/** A running proxy from a free loopback port to one target port. */
export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Closes every open connection, and closes new ones at once, until {@linkcode TcpProxy.restore}. */
  cut(): void;
  /** Forwards connections again. */
  restore(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Starts a proxy from a free port on 127.0.0.1 to `127.0.0.1:<targetPort>`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  const pipes = new Set<Promise<void>>();
  let cut = false;

  const closeQuietly = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  const forward = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      closeQuietly(client);
      return;
    }
    open.add(server);
    // Either side ending (or a cut) closes both.
    await Promise.all([pump(client, server), pump(server, client)]).catch(() => {});
    closeQuietly(client);
    closeQuietly(server);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      if (cut) {
        closeQuietly(conn);
        continue;
      }
      const pipe = forward(conn);
      pipes.add(pipe);
      pipe.finally(() => pipes.delete(pipe));
    }
  })().catch(() => {});

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    cut() {
      cut = true;
      for (const conn of [...open]) closeQuietly(conn);
    },
    restore() {
      cut = false;
    },
    async close() {
      cut = true;
      try {
        listener.close();
      } catch { /* already closed */ }
      for (const conn of [...open]) closeQuietly(conn);
      await accepting;
      await Promise.all(pipes);
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}

/** Copies `from` to `to` until `from` ends; then closes both directions via the caller. */
async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await from.read(buffer);
      if (n === null) break;
      for (let written = 0; written < n;) written += await to.write(buffer.subarray(written, n));
    }
  } finally {
    // Closing here makes the other direction's read end too.
    try {
      to.close();
    } catch { /* already closed */ }
    try {
      from.close();
    } catch { /* already closed */ }
  }
}
