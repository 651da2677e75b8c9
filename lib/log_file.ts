/**
 * An append-only log file that can start afresh while the program runs:
 * `reopen()` after logrotate moved it away (`mv log log.1`, then SIGHUP),
 * and `rotate(keep)` for rotation by size (`log` → `log.1` → … → `log.<keep>`,
 * the oldest dropped). Created owner-only (0600). Used by the packet log and
 * the operational log.
 *
 * @module
 */

import { restrictMode } from "./atomic_file.ts";

/** Options of {@linkcode LogFile.open}. */
export interface LogFileOptions {
  /**
   * Called when the file already existed with a mode that lets others read
   * it, after it was tightened to owner-only (or could not be: `error`).
   */
  readonly onLooseMode?: (mode: number, error?: unknown) => void;
}

/** A log file being appended to. Writes must not overlap (callers serialise them). */
export class LogFile {
  /** The file's path. */
  readonly path: string;
  readonly #options: LogFileOptions;
  #file: Deno.FsFile;
  #size: number;

  private constructor(path: string, file: Deno.FsFile, size: number, options: LogFileOptions) {
    this.path = path;
    this.#file = file;
    this.#size = size;
    this.#options = options;
  }

  /** Open `path` for appending, created 0600; an existing file others can read is tightened. */
  static async open(path: string, options: LogFileOptions = {}): Promise<LogFile> {
    const [file, size] = await openAppend(path, options);
    return new LogFile(path, file, size, options);
  }

  /** Bytes in the file now (what was there at open, and what was written since). */
  get size(): number {
    return this.#size;
  }

  /** Append `bytes` in full; on failure, throws with `written` set to the bytes that went in. */
  async write(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    try {
      while (offset < bytes.length) offset += await this.#file.write(bytes.subarray(offset));
    } finally {
      this.#size += offset;
      this.written = offset;
    }
  }

  /** Bytes the last {@linkcode write} put in the file (all of them unless it threw). */
  written = 0;

  /**
   * Close the file and open `path` again: a file moved away keeps what it
   * has, and a fresh one starts. If the new one cannot be opened, the old
   * one stays in use and this throws.
   */
  async reopen(): Promise<void> {
    const [file, size] = await openAppend(this.path, this.#options);
    this.#swap(file, size);
  }

  /**
   * Shift the old files (`path.1` → `path.2` …, the one past `keep`
   * overwritten), move this one to `path.1`, and start a fresh file. With
   * `keep` 0 the file is emptied instead.
   */
  async rotate(keep: number): Promise<void> {
    if (keep <= 0) {
      await this.#file.truncate(0);
      this.#size = 0;
      return;
    }
    for (let i = keep - 1; i >= 1; i--) {
      await Deno.rename(`${this.path}.${i}`, `${this.path}.${i + 1}`).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
    await Deno.rename(this.path, `${this.path}.1`);
    const [file, size] = await openAppend(this.path, this.#options);
    this.#swap(file, size);
  }

  #swap(file: Deno.FsFile, size: number): void {
    try {
      this.#file.close();
    } catch {
      // closed already
    }
    this.#file = file;
    this.#size = size;
  }

  /** Close the file. */
  close(): void {
    try {
      this.#file.close();
    } catch {
      // closed already
    }
  }
}

async function openAppend(path: string, options: LogFileOptions): Promise<[Deno.FsFile, number]> {
  const file = await Deno.open(path, { write: true, append: true, create: true, mode: 0o600 });
  try {
    const loose = await restrictMode(path);
    if (loose) options.onLooseMode?.(loose.mode, loose.error);
    // The size by seeking to the end: a stat would need read permission (the agent has none).
    const size = await file.seek(0, Deno.SeekMode.End).catch(() => 0);
    return [file, size];
  } catch (error) {
    file.close();
    throw error;
  }
}

/** Parse a size: bytes, or with a suffix `k`, `M`, `G` (powers of 1024). `undefined` if not one. */
export function parseSize(text: string): number | undefined {
  const match = text.trim().match(/^(\d+)\s*([kmg]i?b?|b)?$/i);
  if (!match) return undefined;
  const unit = (match[2] ?? "").toLowerCase()[0];
  const scale = unit === "k" ? 2 ** 10 : unit === "m" ? 2 ** 20 : unit === "g" ? 2 ** 30 : 1;
  return Number(match[1]) * scale;
}
