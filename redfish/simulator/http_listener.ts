/**
 * Serving a fetch-style handler (the Hono app) on `node:http` / `node:https`,
 * with what a BMC simulator needs beyond `Deno.serve`: a handler can drop its
 * request's connection without a reply (a lost reply: the client sees a
 * network error, not a status line), and the listener can stop (connections
 * refused) and listen again on the same port.
 *
 * Why not `Deno.serve`: it sends the status line and headers before the
 * body, and has no way to close one request's connection, so a reply could
 * only be cut short after its headers (a client that reads no body for a
 * 2xx would take the reply as a success).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";

/** A request's connection, as its handler sees it. */
export interface ConnectionControl {
  /**
   * Destroys the connection without a reply (the client sees the connection
   * reset). Returns a Response that is never sent, for the handler to return.
   */
  drop(): Response;
}

/** Serves one request: the Response to send, unless the handler dropped the connection. */
export type FetchHandler = (request: Request, connection: ConnectionControl) => Response | Promise<Response>;

/** Where and how to listen. */
export interface HttpListenerOptions {
  hostname: string;
  /** 0: a free port (kept for {@link HttpListener.listen} after a stop). */
  port: number;
  /** PEM certificate chain and key: https. */
  tls?: { cert: string; key: string };
  handler: FetchHandler;
}

/** A listening HTTP(S) server for one handler. */
export class HttpListener {
  readonly #server: http.Server;
  readonly #hostname: string;
  readonly #scheme: "http" | "https";
  #port: number;
  #listening = false;
  readonly #sockets = new Set<Socket>();
  /** Requests being handled: a stop waits for them. */
  readonly #handling = new Set<Promise<void>>();

  private constructor(options: HttpListenerOptions) {
    this.#hostname = options.hostname;
    this.#port = options.port;
    this.#scheme = options.tls ? "https" : "http";
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const handled = this.#serve(options.handler, req, res);
      this.#handling.add(handled);
      handled.finally(() => this.#handling.delete(handled));
    };
    this.#server = options.tls
      ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, onRequest)
      : http.createServer(onRequest);
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
  }

  /**
   * Starts listening.
   * @throws the listen error (e.g. EADDRINUSE) when the port cannot be had
   */
  static async start(options: HttpListenerOptions): Promise<HttpListener> {
    const listener = new HttpListener(options);
    await listener.listen();
    return listener;
  }

  /** The port listened on (kept while stopped). */
  get port(): number {
    return this.#port;
  }

  /** The origin, e.g. "http://127.0.0.1:41234". */
  get origin(): string {
    const host = this.#hostname.includes(":") ? `[${this.#hostname}]` : this.#hostname;
    return `${this.#scheme}://${host}:${this.#port}`;
  }

  /** Listens (again) on the port; nothing when already listening. */
  async listen(): Promise<void> {
    if (this.#listening) return;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.#server.once("error", onError);
      this.#server.listen(this.#port, this.#hostname, () => {
        this.#server.off("error", onError);
        resolve();
      });
    });
    this.#listening = true;
    const address = this.#server.address();
    if (address !== null && typeof address === "object") this.#port = address.port;
  }

  /**
   * Stops listening (new connections are refused), destroys every open
   * connection (requests in flight get no reply), and waits for their
   * handlers to return.
   */
  async stop(): Promise<void> {
    if (this.#listening) {
      this.#listening = false;
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    }
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([...this.#handling]);
  }

  async #serve(handler: FetchHandler, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const gone = new AbortController();
    // "close" also follows a reply that was sent; only a connection lost before that aborts.
    res.on("close", () => {
      if (!res.writableFinished) gone.abort(new Error("The client closed the connection"));
    });
    let dropped = false;
    const connection: ConnectionControl = {
      drop: () => {
        dropped = true;
        req.socket.destroy();
        return new Response(null, { status: 204 });
      },
    };
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const method = req.method ?? "GET";
      const headers = new Headers();
      for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
      const request = new Request(this.origin + (req.url ?? "/"), {
        method,
        headers,
        body: method === "GET" || method === "HEAD" ? undefined : Buffer.concat(chunks),
        signal: gone.signal,
      });
      const response = await handler(request, connection);
      const body = new Uint8Array(await response.arrayBuffer());
      if (dropped || res.destroyed) return;
      const outgoing: Record<string, string> = {};
      response.headers.forEach((value, name) => (outgoing[name] = value));
      if (body.length > 0) outgoing["content-length"] = String(body.length);
      res.writeHead(response.status, outgoing);
      res.end(body);
    } catch {
      // The client went away while the body was read, or the handler failed unexpectedly: no reply can be made.
      req.socket.destroy();
    }
  }
}
