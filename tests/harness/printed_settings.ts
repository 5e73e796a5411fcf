/**
 * Reads the `NAME=value` lines a child prints on stdout at start-up (as
 * `deno task sim` prints EQUINIX_API_URL=, EQUINIX_API_TOKEN=,
 * EQUINIX_PROJECT_ID=), for tests and the bench.
 *
 * @module
 */

/**
 * The `NAME=value` settings among the complete lines of `text`, by name, once
 * every one of `names` is there; undefined until then.
 */
export function settingsIn(text: string, names: string[]): Record<string, string> | undefined {
  const printed: Record<string, string> = {};
  for (const line of text.split("\n").slice(0, -1)) {
    const [name, ...rest] = line.split("=");
    printed[name] = rest.join("=");
  }
  return names.every((name) => name in printed) ? printed : undefined;
}

/**
 * Reads from `reader` until every one of `names` was printed as a `NAME=value`
 * line, and returns the values by name. The reader stays open (the caller
 * keeps draining or cancels it).
 * @throws when stdout ends first, with what was printed.
 */
export async function printedSettings(
  reader: ReadableStreamDefaultReader<string>,
  names: string[],
): Promise<Record<string, string>> {
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stdout ended before ${names.join(", ")} were printed: ${JSON.stringify(text)}`);
    text += value;
    const printed = settingsIn(text, names);
    if (printed) return printed;
  }
}
