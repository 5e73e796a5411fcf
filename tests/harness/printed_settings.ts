/**
 * Reads the `NAME=value` lines a child prints on stdout at start-up (as
 * `deno task sim` prints EQUINIX_API_URL=, EQUINIX_API_TOKEN=,
 * EQUINIX_PROJECT_ID=), for tests and the bench.
 *
 * @module
 */

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
  const printed: Record<string, string> = {};
  let text = "";
  while (!names.every((name) => name in printed)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stdout ended before ${names.join(", ")} were printed: ${JSON.stringify(text)}`);
    text += value;
    for (const line of text.split("\n").slice(0, -1)) {
      const [name, ...rest] = line.split("=");
      printed[name] = rest.join("=");
    }
  }
  return printed;
}
