/**
 * Crash-safe file replacement: write a temporary file beside the target,
 * flush it to disk, then rename it over the target. A crash at any moment
 * leaves either the old file or the new one, never a half-written one.
 *
 * @module
 */

/**
 * Replace `path` with `text` atomically. `text` may also be given in pieces
 * (an async iterable), which are written as they come, so that a large file
 * never has to exist as one string.
 * Needs `--allow-write` (and `--allow-read`) for the file's directory.
 *
 * @example
 * ```ts
 * await writeFileAtomic("nodelumi.cfg", "bb.com\nlaura\n");
 * ```
 */
export async function writeFileAtomic(
  path: string,
  text: string | AsyncIterable<string>,
): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const encoder = new TextEncoder();
  try {
    using file = await Deno.open(temp, { write: true, create: true, truncate: true });
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
