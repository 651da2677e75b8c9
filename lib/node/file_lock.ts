/**
 * One node per set of files. Beside each file the node writes (its
 * configuration, account database, state, packet log) it holds an exclusive
 * advisory lock (`flock`) on `<file>.lock`, which also names its pid. A
 * second node given any of the same files — from the same folder, or from
 * another configuration — finds the lock taken and refuses to start. The
 * operating system drops the locks of a process that dies, even by `kill -9`,
 * so a stale lock file never blocks a restart: only a live lock counts.
 *
 * @module
 */

/** Another process holds the lock of one of the node's files. */
export class FileLockedError extends Error {
  /** The file in use. */
  readonly path: string;
  /** The pid written in the lock file by its holder, when readable. */
  readonly pid: number | undefined;

  constructor(path: string, pid: number | undefined) {
    super(
      `Another node${pid === undefined ? "" : ` (pid ${pid})`} is using ${path}: ` +
        "stop it first, or give this node other files.",
    );
    this.name = "FileLockedError";
    this.path = path;
    this.pid = pid;
  }
}

interface Held {
  readonly path: string;
  readonly file: Deno.FsFile;
  readonly ino: number | null;
}

/** The locks of one node's files; release them with `release()` or `await using`. */
export class NodeLock implements AsyncDisposable {
  readonly #held: Held[];
  /** Files that could not be locked (no permission to create `<file>.lock`), with why. */
  readonly skipped: readonly { path: string; reason: string }[];

  private constructor(held: Held[], skipped: { path: string; reason: string }[]) {
    this.#held = held;
    this.skipped = skipped;
  }

  /** The lock files held. */
  get paths(): string[] {
    return this.#held.map((h) => h.path);
  }

  /**
   * Lock every file of `files` (duplicates, by path or by file, are locked
   * once). Throws {@linkcode FileLockedError} when another process holds one;
   * then none is kept. A lock file that cannot be created for lack of
   * permission is skipped (listed in `skipped`): a read-only configuration
   * must not stop a node that never writes it.
   */
  static async acquire(files: Iterable<string>): Promise<NodeLock> {
    const held: Held[] = [];
    const skipped: { path: string; reason: string }[] = [];
    try {
      for (const target of new Set(files)) {
        const lock = await lockOne(`${target}.lock`, target, held);
        if (typeof lock === "string") skipped.push({ path: target, reason: lock });
        else if (lock) held.push(lock);
      }
    } catch (error) {
      await new NodeLock(held, []).release();
      throw error;
    }
    return new NodeLock(held, skipped);
  }

  /** Remove the lock files and let go of the locks. */
  async release(): Promise<void> {
    for (const { path, file, ino } of this.#held.splice(0)) {
      try {
        // Only while holding the lock, and only our own file (not one made after a stale one).
        if ((await Deno.stat(path)).ino === ino) await Deno.remove(path);
      } catch {
        // Gone already, or not ours to remove: the lock goes with the close.
      }
      try {
        file.close();
      } catch {
        // closed already
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}

function isPermissionError(error: unknown): boolean {
  return error instanceof Deno.errors.PermissionDenied || error instanceof Deno.errors.NotCapable ||
    (error instanceof Error && /read-only file system|os error 30/i.test(error.message));
}

async function readPid(file: Deno.FsFile): Promise<number | undefined> {
  const buffer = new Uint8Array(32);
  const n = await file.read(buffer).catch(() => null);
  const text = new TextDecoder().decode(buffer.subarray(0, n ?? 0)).trim();
  return /^\d{1,10}$/.test(text) ? Number(text) : undefined;
}

/** Lock `path` (the lock file of `target`): the lock, `undefined` if already held, or why skipped. */
async function lockOne(
  path: string,
  target: string,
  held: readonly Held[],
): Promise<Held | string | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    let file: Deno.FsFile;
    try {
      file = await Deno.open(path, { read: true, write: true, create: true });
    } catch (error) {
      if (isPermissionError(error)) return error instanceof Error ? error.message : String(error);
      throw error;
    }
    const ino = (await file.stat()).ino;
    if (ino !== null && held.some((h) => h.ino === ino)) {
      file.close();
      return undefined;
    }
    if (!await file.tryLock(true)) {
      const pid = await readPid(file);
      file.close();
      throw new FileLockedError(target, pid);
    }
    // A holder that was releasing may have removed the file we opened: lock the one at `path`.
    const now = await Deno.stat(path).catch(() => undefined);
    if (now?.ino !== ino) {
      file.close();
      continue;
    }
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
    return { path, file, ino };
  }
  throw new Error(`Cannot lock ${path}: it keeps being replaced`);
}
