/**
 * The node opens only regular files of a bounded size: a FIFO given as the
 * configuration would hang the start (opening it waits for a writer), a link
 * to `/dev/zero` would be read until memory runs out.
 *
 * @module
 */

/** A file that is not a regular file, or too large. */
export class FileKindError extends Error {
  /** The file. */
  readonly path: string;
  /** Why, without the path: "it is a FIFO, not a regular file". */
  readonly reason: string;

  constructor(path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.name = "FileKindError";
    this.path = path;
    this.reason = reason;
  }
}

function notRegular(path: string, info: Deno.FileInfo): FileKindError {
  return new FileKindError(path, `it is ${kindOf(info)}, not a regular file`);
}

function kindOf(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  return "something else";
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

/**
 * Check that `path` is a regular file (links are followed) of at most
 * `maxBytes`, or does not exist. Resolves to its size (0 when missing).
 * Throws {@linkcode FileKindError} with the reason, or the file system's
 * error (permission denied, …).
 */
export async function checkRegularFile(path: string, maxBytes = Infinity): Promise<number> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
  if (!info.isFile) throw notRegular(path, info);
  if (info.size > maxBytes) {
    throw new FileKindError(path, `it is larger than ${mib(maxBytes)} (${info.size} bytes)`);
  }
  return info.size;
}

/**
 * Read a regular file of at most `maxBytes` as UTF-8 text. Checks before
 * opening (no open of a FIFO), and again on the open file, reading no more
 * than `maxBytes + 1` bytes whatever the file claims.
 * Throws {@linkcode FileKindError}, or the file system's error (`NotFound`, …).
 */
export async function readRegularFile(path: string, maxBytes: number): Promise<string> {
  const info = await Deno.stat(path);
  if (!info.isFile) throw notRegular(path, info);
  if (info.size > maxBytes) {
    throw new FileKindError(path, `it is larger than ${mib(maxBytes)} (${info.size} bytes)`);
  }
  using file = await Deno.open(path, { read: true });
  const opened = await file.stat();
  if (!opened.isFile) throw notRegular(path, opened);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    total += n;
    if (total > maxBytes) {
      throw new FileKindError(path, `it is larger than ${mib(maxBytes)}`);
    }
    chunks.push(buffer.slice(0, n));
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(bytes);
}
