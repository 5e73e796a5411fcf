/**
 * A PostgreSQL server of a few lines, for testing how a client picks and
 * leaves hosts: it completes the startup handshake (trust), reports the
 * parameters it is given (`in_hot_standby`, `default_transaction_read_only`)
 * and answers every query with an error of the test's choosing, which tells
 * the test which server answered. It can also die in the middle of a query
 * (a FATAL 57P01, then the socket closed, as a backend whose postmaster was
 * killed), report a parameter change with an answer (a reload), or refuse
 * connections from some point on.
 *
 * ```ts
 * await using standby = startFakePostgres({ parameters: HOT_STANDBY, answer: () => ({ code: "25006" }) });
 * ```
 *
 * @module
 */

/** Startup parameters of a primary: writable. */
export const PRIMARY: Readonly<Record<string, string>> = {
  in_hot_standby: "off",
  default_transaction_read_only: "off",
};
/** Startup parameters of a hot standby (default_transaction_read_only stays off there, as on a real one). */
export const HOT_STANDBY: Readonly<Record<string, string>> = {
  in_hot_standby: "on",
  default_transaction_read_only: "off",
};

/** How the server answers one query. */
export interface FakeAnswer {
  /** The SQLSTATE of the error it answers with. */
  code: string;
  message?: string;
  /** FATAL and the socket closed without ReadyForQuery: a backend dying mid-query. */
  die?: boolean;
  /** Parameter changes reported before the ReadyForQuery (as after a reload). */
  parameters?: Record<string, string>;
}

export interface FakePostgresOptions {
  /** Reported at startup, besides `server_version`. */
  parameters: Readonly<Record<string, string>>;
  /** The answer to the `n`th query (from 1) over all connections. */
  answer(n: number): FakeAnswer;
}

export interface FakePostgres extends AsyncDisposable {
  readonly port: number;
  /** Connections that completed the startup handshake. */
  readonly connections: number;
  /** Queries answered. */
  readonly queries: number;
  /** Stops listening: new connections are refused (open ones stay). */
  refuse(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();

function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

function cstrings(...parts: string[]): Uint8Array {
  return encoder.encode(parts.map((p) => `${p}\0`).join(""));
}

function int32s(...values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  values.forEach((v, i) => new DataView(out.buffer).setInt32(4 * i, v));
  return out;
}

const parameterStatus = (name: string, value: string) => message("S", cstrings(name, value));
const readyForQuery = () => message("Z", encoder.encode("I"));
function errorResponse(severity: "ERROR" | "FATAL", code: string, text: string): Uint8Array {
  const fields = [`S${severity}`, `V${severity}`, `C${code}`, `M${text}`];
  return message("E", encoder.encode(fields.map((f) => `${f}\0`).join("") + "\0"));
}

/** Starts the fake server on a free loopback port. */
export function startFakePostgres(options: FakePostgresOptions): FakePostgres {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const open = new Set<Deno.Conn>();
  const served = new Set<Promise<void>>();
  let connections = 0;
  let queries = 0;
  let listening = true;

  async function serve(conn: Deno.Conn): Promise<void> {
    const write = async (...parts: Uint8Array[]) => {
      for (const part of parts) {
        for (let sent = 0; sent < part.length;) sent += await conn.write(part.subarray(sent));
      }
    };
    let buffer = new Uint8Array(0);
    let started = false;
    const chunk = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(chunk);
      if (n === null) return;
      const joined = new Uint8Array(buffer.length + n);
      joined.set(buffer);
      joined.set(chunk.subarray(0, n), buffer.length);
      buffer = joined;
      for (;;) {
        const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
        if (!started) {
          if (buffer.length < 8) break;
          const length = view.getInt32(0);
          if (buffer.length < length) break;
          const code = view.getInt32(4);
          buffer = buffer.subarray(length);
          if (code === 80877103) { // SSLRequest: no
            await write(encoder.encode("N"));
            continue;
          }
          started = true;
          connections++;
          await write(
            message("R", int32s(0)),
            parameterStatus("server_version", "15.0"),
            ...Object.entries(options.parameters).map(([k, v]) => parameterStatus(k, v)),
            message("K", int32s(connections, 0)),
            readyForQuery(),
          );
          continue;
        }
        if (buffer.length < 5) break;
        const type = String.fromCharCode(buffer[0]);
        const length = view.getInt32(1);
        if (buffer.length < 1 + length) break;
        buffer = buffer.subarray(1 + length);
        if (type === "X") return;
        if (type !== "Q" && type !== "S") continue; // the parts of an extended query: answered at its Sync
        const answer = options.answer(++queries);
        const text = answer.message ?? `answered by the fake server on port ${port}`;
        if (answer.die) {
          await write(errorResponse("FATAL", answer.code, text));
          return;
        }
        await write(
          errorResponse("ERROR", answer.code, text),
          ...Object.entries(answer.parameters ?? {}).map(([k, v]) => parameterStatus(k, v)),
          readyForQuery(),
        );
      }
    }
  }

  const accepting = (async () => {
    for await (const conn of listener) {
      open.add(conn);
      const done = serve(conn).catch(() => {}).finally(() => {
        open.delete(conn);
        served.delete(done);
        try {
          conn.close();
        } catch { /* closed already */ }
      });
      served.add(done);
    }
  })().catch(() => {});

  const refuse = () => {
    if (!listening) return;
    listening = false;
    listener.close();
  };
  const close = async () => {
    refuse();
    await accepting;
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    await Promise.all(served);
  };
  return {
    port,
    get connections() {
      return connections;
    },
    get queries() {
      return queries;
    },
    refuse,
    close,
    [Symbol.asyncDispose]: close,
  };
}
