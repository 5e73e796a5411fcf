/**
 * Reading one of the operator's files (inventory, credentials, CA) and saying
 * in the operator's words why it could not be read.
 *
 * @module
 */

/** A file's text and its permission bits (null where the platform has none). */
export interface TextFile {
  text: string;
  mode: number | null;
}

/**
 * Reads `path` as UTF-8. The mode is taken from the same open file, so it is
 * the mode of the text that was read, even if the file is replaced meanwhile.
 * @throws {Deno.errors.NotFound | Deno.errors.PermissionDenied | Error} as
 *   Deno reports it; {@linkcode describeReadError} words it for the operator.
 */
export async function readTextFile(path: string): Promise<TextFile> {
  using file = await Deno.open(path, { read: true });
  const info = await file.stat();
  if (!info.isFile) throw new NotAFileError(path);
  const bytes = new Uint8Array(await new Response(file.readable).arrayBuffer());
  return { text: new TextDecoder().decode(bytes), mode: info.mode === null ? null : info.mode & 0o7777 };
}

/** What an error of {@linkcode readTextFile} means: `file is missing`, `file cannot be read: …`. */
export function describeReadError(error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return "file is missing";
  if (error instanceof Deno.errors.PermissionDenied) return "file cannot be read: permission denied";
  if (error instanceof NotAFileError) return "is not a file";
  return `file cannot be read: ${error instanceof Error ? error.message : String(error)}`;
}

/** The path names a directory, a socket or the like. */
class NotAFileError extends Error {
  constructor(readonly path: string) {
    super(`${path} is not a file`);
    this.name = "NotAFileError";
  }
}
