/**
 * The "next release" of Drover for upgrade tests: a copy of this checkout in
 * a temporary directory (without `.git` and local data) with migrations
 * added after its newest, as a release that only expands the schema would
 * add them.
 *
 * ```ts
 * await using next = await copyRelease([{ name: "machine_note", sql: "ALTER TABLE ..." }]);
 * // run `deno task start` with cwd next.dir; next.migrations names what it adds, e.g. ["0010_machine_note"]
 * ```
 *
 * @module
 */
import { loadMigrations } from "../../bmdb/mod.ts";

const REPO = new URL("../../", import.meta.url).pathname;
/** Not part of a release: history, and what a local run leaves behind. */
const LEFT_OUT = new Set([".git", "data", "cov"]);

export interface ReleaseCopy extends AsyncDisposable {
  /** The copy's root (run `deno task start` there). */
  readonly dir: string;
  /** The added migrations' names, e.g. `0010_machine_note`, in order. */
  readonly migrations: readonly string[];
}

/**
 * Copies the checkout and adds `migrations` (each `{ name, sql }`, `name` in
 * `[a-z0-9_]+`) numbered after the checkout's newest.
 * @throws when the copy fails (the message holds `cp`'s output)
 */
export async function copyRelease(migrations: readonly { name: string; sql: string }[]): Promise<ReleaseCopy> {
  const dir = await Deno.makeTempDir({ prefix: "drover-release-" });
  const remove = () => Deno.remove(dir, { recursive: true }).catch(() => {});
  try {
    const entries: string[] = [];
    for await (const entry of Deno.readDir(REPO)) if (!LEFT_OUT.has(entry.name)) entries.push(`${REPO}${entry.name}`);
    const copied = await new Deno.Command("cp", { args: ["-a", ...entries, dir], stderr: "piped" }).output();
    if (!copied.success) {
      throw new Error(`copying ${REPO} to ${dir} failed: ${new TextDecoder().decode(copied.stderr)}`);
    }
    const newest = Number((await loadMigrations()).at(-1)?.version ?? "0");
    const names = migrations.map((m, i) => `${String(newest + 1 + i).padStart(4, "0")}_${m.name}`);
    for (const [i, m] of migrations.entries()) {
      await Deno.writeTextFile(`${dir}/migrations/${names[i]}.up.sql`, m.sql);
    }
    return { dir, migrations: names, [Symbol.asyncDispose]: remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
