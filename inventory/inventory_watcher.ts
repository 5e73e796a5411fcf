/**
 * Keeps the inventory current while the service runs: reloads when the
 * operator's files change (or on SIGHUP, which the service wires to
 * {@linkcode InventoryWatcher.reload}), and keeps the last good inventory
 * when a reload finds problems.
 *
 * @module
 */
import { basename, dirname } from "node:path";
import type { Inventory } from "./inventory.ts";
import { type LoadInventoryOptions, readInventory } from "./load_inventory.ts";
import { InventoryError } from "./problem.ts";
import { sameInventory } from "./same_inventory.ts";

/** Where the files are, and whom to tell about reloads. */
export interface InventoryWatcherOptions extends LoadInventoryOptions {
  /**
   * How long the files must be quiet before a reload: an editor's save or a
   * config management run touches them several times.
   * @default 200
   */
  debounceMs?: number;
  /** Called after a reload that changed something, with the new inventory. Must not throw. */
  onReload?: (inventory: Inventory) => void;
  /** Called after each reload that found problems (the last good inventory stays current). Must not throw. */
  onProblem?: (error: InventoryError) => void;
}

/**
 * Watches the inventory file, the credentials file and the CA files the BMCs
 * name. It watches their directories, not the files, because editors and
 * config management replace a file by renaming another onto it; a symlinked
 * file (a Kubernetes ConfigMap or Secret) makes any change in its directory
 * count. A deleted file is a problem ("file is missing") until it is back.
 *
 * A throw from `onReload` or `onProblem` rejects {@linkcode reload}; in a
 * reload the watcher started itself it goes to `reportError`.
 */
export class InventoryWatcher {
  readonly #options: InventoryWatcherOptions;
  #current: Inventory;
  #problem: InventoryError | null = null;
  /** Reloads run one at a time, in order: each waits for this, the previous one. */
  #queue: Promise<unknown> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #fs: Deno.FsWatcher | undefined;
  /** The directories #fs watches, sorted, one per line. */
  #watchedDirs = "";
  /** A change to one of these names (in a watched directory) triggers a reload. */
  #names = new Set<string>();
  /** A change to any name in these directories triggers a reload: a watched file there is a symlink. */
  #anyNameIn = new Set<string>();
  readonly #follows = new Set<Promise<void>>();
  #closed = false;

  private constructor(options: InventoryWatcherOptions, current: Inventory) {
    this.#options = options;
    this.#current = current;
  }

  /**
   * Loads the inventory, then watches its files.
   * @throws {InventoryError} when the first load finds problems: nothing is watched.
   */
  static async start(options: InventoryWatcherOptions): Promise<InventoryWatcher> {
    const { result, files } = await readInventory(options);
    if (result instanceof InventoryError) throw result;
    const watcher = new InventoryWatcher(options, result);
    await watcher.#watch(files);
    return watcher;
  }

  /** The last good inventory. */
  get current(): Inventory {
    return this.#current;
  }

  /** The last reload's problems, until a reload succeeds; null after a good one. */
  get problem(): InventoryError | null {
    return this.#problem;
  }

  /**
   * Reads the files again (what SIGHUP does). Problems keep `current`, set
   * `problem`, call `onProblem` and resolve with the error. A good read
   * replaces `current`, clears `problem`, and calls `onReload` if anything
   * changed ({@linkcode sameInventory}); it resolves with the new inventory.
   * Reloads run one at a time; this one waits for any under way.
   */
  reload(): Promise<Inventory | InventoryError> {
    const next = this.#queue.then(() => this.#reloadNow());
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Stops watching and waits for a reload under way. Later changes to the files are not seen. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#fs?.close();
    this.#fs = undefined;
    await Promise.all(this.#follows);
    await this.#queue;
  }

  /** {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #reloadNow(): Promise<Inventory | InventoryError> {
    const { result, files } = await readInventory(this.#options);
    // The files named may have changed (a new CA file), so may the directories to watch.
    await this.#watch(files);
    if (result instanceof InventoryError) {
      this.#problem = result;
      this.#options.onProblem?.(result);
      return result;
    }
    const changed = !sameInventory(this.#current, result);
    this.#current = result;
    this.#problem = null;
    if (changed) this.#options.onReload?.(result);
    return result;
  }

  /** Watches the directories of `files` (those that exist), unless that is what is watched already. */
  async #watch(files: string[]): Promise<void> {
    if (this.#closed) return;
    this.#names = new Set(files.map((file) => basename(file)));
    const links = await Promise.all(files.map((file) => Deno.lstat(file).then((info) => info.isSymlink, () => false)));
    this.#anyNameIn = new Set(files.filter((_, index) => links[index]).map((file) => dirname(file)));
    const dirs = [...new Set(files.map((file) => dirname(file)))].sort();
    const exist = await Promise.all(dirs.map((dir) => Deno.stat(dir).then((info) => info.isDirectory, () => false)));
    const watched = dirs.filter((_, index) => exist[index]);
    // A directory that is missing now is looked for again at the next reload: the key then differs.
    const key = dirs.length === watched.length ? dirs.join("\n") : "";
    if (key !== "" && key === this.#watchedDirs && this.#fs !== undefined) return;
    this.#fs?.close();
    this.#fs = undefined;
    this.#watchedDirs = key;
    if (watched.length === 0 || this.#closed) return;
    let fs: Deno.FsWatcher;
    try {
      fs = Deno.watchFs(watched, { recursive: false });
    } catch {
      // A directory went away since the stat: try again at the next reload (SIGHUP, or a change elsewhere).
      this.#watchedDirs = "";
      return;
    }
    this.#fs = fs;
    const follow: Promise<void> = this.#follow(fs).finally(() => this.#follows.delete(follow));
    this.#follows.add(follow);
  }

  /** Schedules a reload for each change to a watched file, until `fs` is closed. */
  async #follow(fs: Deno.FsWatcher): Promise<void> {
    try {
      for await (const event of fs) {
        // Reading a file is an access, and our own reads must not trigger reloads.
        if (event.kind === "access") continue;
        if (event.paths.some((path) => this.#names.has(basename(path)) || this.#anyNameIn.has(dirname(path)))) {
          this.#schedule();
        }
      }
    } catch {
      // The watch broke (its directory removed, say): watch again at the next reload.
      if (this.#fs === fs) this.#watchedDirs = "";
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.reload().catch(reportError);
    }, this.#options.debounceMs ?? 200);
  }
}
