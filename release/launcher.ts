/**
 * Renders the executable's header from release/launcher.sh: the POSIX sh
 * script that unpacks the payload appended to it (once per build) and execs
 * the unpacked Deno on the bundle.
 *
 * @module
 */

/** What the header needs to know about its build. */
export interface LauncherOptions {
  /** The first comment line, e.g. `Drover 0.1.0 (commit 98a1166c2f05), a fleet control plane`. */
  title: string;
  /** Names the cache directory the payload unpacks into: [A-Za-z0-9._-] only. */
  buildId: string;
  /** `deno run`'s permission and V8 flags (deno.json's start task's). */
  denoFlags: string[];
}

const TEMPLATE = new URL("./launcher.sh", import.meta.url);

/** `word` quoted for sh (single quotes, each `'` as `'\''`). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The header's bytes. Its own length is the payload's offset, written into
 * it: rendered until the length it states is the length it has.
 */
export async function renderLauncher(options: LauncherOptions): Promise<Uint8Array> {
  if (!/^[A-Za-z0-9._-]+$/.test(options.buildId)) {
    throw new RangeError(
      `Cannot render the launcher: buildId must be [A-Za-z0-9._-]+: current value is ${options.buildId}`,
    );
  }
  if (/[\n\r]/.test(options.title)) throw new RangeError("Cannot render the launcher: the title must be one line");
  const template = await Deno.readTextFile(TEMPLATE);
  const fill = (offset: number) =>
    new TextEncoder().encode(
      template
        .replaceAll("@@TITLE@@", options.title)
        .replaceAll("@@BUILD_ID@@", options.buildId)
        .replaceAll("@@DENO_FLAGS@@", options.denoFlags.map(shellQuote).join(" "))
        .replaceAll("@@PAYLOAD_OFFSET@@", String(offset)),
    );
  let offset = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const header = fill(offset);
    if (header.length === offset) return header;
    offset = header.length;
  }
  throw new Error("unreachable: the header's length did not settle");
}
