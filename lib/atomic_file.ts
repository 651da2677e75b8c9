/**
 * Crash-safe file replacement: write a temporary file beside the target,
 * flush it to disk, then rename it over the target. A crash at any moment
 * leaves either the old file or the new one, never a half-written one.
 *
 * @module
 */

/**
 * Replace `path` with `text` atomically.
 * Needs `--allow-write` (and `--allow-read`) for the file's directory.
 *
 * @example
 * ```ts
 * await writeFileAtomic("nodelumi.cfg", "bb.com\nlaura\n");
 * ```
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const data = new TextEncoder().encode(text);
  try {
    using file = await Deno.open(temp, { write: true, create: true, truncate: true });
    let written = 0;
    while (written < data.length) written += await file.write(data.subarray(written));
    await file.sync();
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  await Deno.rename(temp, path);
}
