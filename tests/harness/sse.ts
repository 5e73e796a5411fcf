/**
 * A server-sent events reader for tests: frames as they arrive, comments
 * included, read from a fetch body.
 *
 * @module
 */

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  /** A comment line (`: keepalive`), without the colon. */
  comment?: string;
}

export interface SseReader extends AsyncDisposable {
  /** The next frame matching `predicate`, or rejects after `timeoutMs`. */
  next(predicate?: (frame: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame>;
  close(): Promise<void>;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: "text/event-stream", ...headers },
    signal: controller.signal,
  });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const frames: SseFrame[] = [];
  // A read left pending by a timed-out `next` is kept for the next call, so no chunk is lost.
  let pending: Promise<ReadableStreamReadResult<string>> | undefined;

  const parse = () => {
    for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const frame: SseFrame = {};
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) frame.comment = line.slice(1).trim();
        else {
          const i = line.indexOf(":");
          const key = line.slice(0, i);
          const value = line.slice(i + 1).replace(/^ /, "");
          if (key === "id" || key === "event") frame[key] = value;
          if (key === "data") frame.data = frame.data === undefined ? value : `${frame.data}\n${value}`;
        }
      }
      frames.push(frame);
    }
  };

  const close = async () => {
    controller.abort();
    await reader.cancel().catch(() => {});
  };
  return {
    async next(predicate = () => true, timeoutMs = 5000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        const i = frames.findIndex(predicate);
        if (i >= 0) return frames.splice(0, i + 1).at(-1)!;
        frames.length = 0;
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        pending ??= reader.read();
        const chunk = await Promise.race([
          pending,
          new Promise<"timeout">((resolve) => timer = setTimeout(() => resolve("timeout"), left)),
        ]).finally(() => clearTimeout(timer));
        if (chunk === "timeout") throw new Error(`no matching event within ${timeoutMs} ms`);
        pending = undefined;
        if (chunk.done) throw new Error("the event stream ended");
        buffer += chunk.value;
        parse();
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
