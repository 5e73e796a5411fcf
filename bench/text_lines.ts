/**
 * A child's stdout, line by line (the bench's child processes report in JSON lines).
 *
 * @module
 */

/** Yields each non-empty line of `stream`, the last one even without its newline. */
export async function* lines(stream: ReadableStream<Uint8Array<ArrayBuffer>>): AsyncGenerator<string> {
  let text = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    text += chunk;
    const parts = text.split("\n");
    text = parts.pop() ?? "";
    yield* parts.filter((line) => line.trim() !== "");
  }
  if (text.trim() !== "") yield text;
}
