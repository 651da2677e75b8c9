/**
 * Crash-safe file replacement: write a temporary file beside the target,
 * flush it to disk, then rename it over the target. A crash at any moment
 * leaves either the old file or the new one, never a half-written one.
 *
 * @module
 */

/** Options of {@linkcode writeFileAtomic}. */
export interface WriteAtomicOptions {
  /**
   * Permission bits of the new file, e.g. `0o600` for a file that holds
   * secrets. Default: those of the file it replaces, else the system's
   * default for a new file.
   */
  readonly mode?: number;
}

/**
 * Replace `path` with `text` atomically. `text` may also be given in pieces
 * (an async iterable), which are written as they come, so that a large file
 * never has to exist as one string.
 * Needs `--allow-write` (and `--allow-read`) for the file's directory.
 *
 * @example
 * ```ts
 * await writeFileAtomic("nodelumi.cfg", "bb.com\nlaura\n");
 * await writeFileAtomic("nodelumi-bb.com.state", "{}", { mode: 0o600 });
 * ```
 */
export async function writeFileAtomic(
  path: string,
  text: string | AsyncIterable<string>,
  options: WriteAtomicOptions = {},
): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const encoder = new TextEncoder();
  const mode = options.mode ?? await currentMode(path);
  try {
    using file = await Deno.open(temp, {
      write: true,
      create: true,
      truncate: true,
      // Created with the mode at once: the temporary file is never readable by others meanwhile.
      ...(mode !== undefined && { mode }),
    });
    // The umask may have taken bits off a mode kept from the old file; give them back.
    if (mode !== undefined && options.mode === undefined) {
      await Deno.chmod(temp, mode).catch(() => {});
    }
    for await (const piece of typeof text === "string" ? [text] : text) {
      const data = encoder.encode(piece);
      let written = 0;
      while (written < data.length) written += await file.write(data.subarray(written));
    }
    await file.sync();
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  try {
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await syncDirectory(path);
}

/** Permission bits of the file at `path`, if it exists and the system has them. */
async function currentMode(path: string): Promise<number | undefined> {
  try {
    const mode = (await Deno.stat(path)).mode;
    return mode === null ? undefined : mode & 0o777;
  } catch {
    return undefined;
  }
}

/**
 * Make the file at `path` readable and writable by its owner only (0600),
 * if others may read or write it now; a missing file, or a system without
 * modes (Windows), is left alone. Returns the mode the file had when it was
 * loose (tightened, or `error` saying why it could not be), else `undefined`.
 */
export async function restrictMode(
  path: string,
): Promise<{ mode: number; error?: unknown } | undefined> {
  let mode: number | null;
  try {
    mode = (await Deno.stat(path)).mode;
  } catch (error) {
    // Without read permission (the agent may only write its log) the mode cannot be seen: set it.
    if (!(error instanceof Deno.errors.NotFound)) await Deno.chmod(path, 0o600).catch(() => {});
    return undefined;
  }
  if (mode === null || (mode & 0o077) === 0) return undefined;
  mode &= 0o777;
  try {
    await Deno.chmod(path, 0o600);
    return { mode };
  } catch (error) {
    return { mode, error };
  }
}

/**
 * Create `path` empty and owner-only (0600) if it does not exist yet, so that
 * whatever writes it next (SQLite) finds it private from the first byte.
 * An existing file is left as it is; a file that cannot be created is left
 * for the caller's own open to report.
 */
export async function createPrivate(path: string): Promise<void> {
  try {
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    file.close();
  } catch {
    // exists already, or cannot be made: the caller's open says why
  }
}

/** Flush the directory entry of `path` (the rename) to disk, where the system allows it. */
async function syncDirectory(path: string): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  try {
    using handle = await Deno.open(dir, { read: true });
    await handle.sync();
  } catch {
    // Not possible on every system (Windows) or without read permission: the
    // rename is still atomic, only its durability across a power cut is weaker.
  }
}

/**
 * Remove the temporary files {@linkcode writeFileAtomic} leaves beside `path`
 * when the process is killed in the middle of a write (`<name>.tmp-…`).
 * Call it at start, before anything writes `path`. Returns how many it removed.
 */
export async function removeStaleTemps(path: string): Promise<number> {
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  const prefix = `${path.slice(slash + 1)}.tmp-`;
  let removed = 0;
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.startsWith(prefix)) {
        await Deno.remove(`${dir}/${entry.name}`);
        removed++;
      }
    }
  } catch {
    // An unreadable directory: nothing to tidy that we may touch.
  }
  return removed;
}
