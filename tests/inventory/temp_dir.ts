/**
 * A throwaway directory for one test's files, removed with `await using`.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/** A temporary directory and writers for the files in it. */
export interface TempDir extends AsyncDisposable {
  readonly path: string;
  /** The absolute path of `name` in the directory. */
  file(name: string): string;
  /** Writes `text` to `name` (mode 0600 unless given) and returns its path. */
  write(name: string, text: string, mode?: number): Promise<string>;
  /** Writes `text` to a temporary name, then renames it onto `name`, as editors and config management do. */
  replace(name: string, text: string, mode?: number): Promise<string>;
}

/** Makes a fresh directory under the system's temporary directory. */
export async function makeTempDir(): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix: "drover-inventory-" });
  const file = (name: string) => join(path, name);
  const write = async (name: string, text: string, mode = 0o600) => {
    await Deno.writeTextFile(file(name), text, { mode });
    await Deno.chmod(file(name), mode); // the mode option applies only to a new file, and under the umask
    return file(name);
  };
  return {
    path,
    file,
    write,
    async replace(name, text, mode) {
      const temporary = join(dirname(name), `.${basename(name)}.tmp`);
      await write(temporary, text, mode);
      await Deno.rename(file(temporary), file(name));
      return file(name);
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}
