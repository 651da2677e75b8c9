/**
 * The packet log of the original implementation: one line per PLUMI packet
 * sent (`E`) or received (`R`), between opening and closing marker lines.
 *
 * ```
 * ------ INICI LOG ------
 * E: 10.100.100.104:UDP:3344, PLu1@PC-c:u2@PC-d, 17
 * R: 10.100.100.104:UDP:3344, RL0u1@PC-c:u2@PC-d:10.100.100.102:43038, 39
 * ------ FINAL LOG ------
 * ```
 *
 * Unlike the original, lines are buffered and written every
 * `flushIntervalMs` (and at close), so the log never slows the sender down
 * to the disk's pace. A crash (`kill -9`, power loss) loses at most the lines
 * of the last interval; a clean shutdown loses nothing.
 *
 * @module
 */

import type { Endpoint } from "./plumi/address.ts";
import { printable } from "./plumi/codec.ts";

/** First line written when a log opens. */
export const LOG_OPEN_MARKER = "------ INICI LOG ------";
/** Last line written when a log closes. */
export const LOG_CLOSE_MARKER = "------ FINAL LOG ------";

/**
 * Longest packet written out in full. Every valid packet is shorter; a
 * refused 64 KB datagram is logged by its first bytes and its true length,
 * so a flood of huge datagrams cannot fill the disk at 4 bytes per byte.
 */
export const MAX_LOGGED_BYTES = 512;

/** Direction of a logged packet: `E` sent, `R` received. */
export type Direction = "E" | "R";

/** Format one log line exactly as the original does (without the newline). */
export function formatLogLine(direction: Direction, remote: Endpoint, bytes: Uint8Array): string {
  return `${direction}: ${remote.ip}:UDP:${remote.port}, ${
    printable(bytes, MAX_LOGGED_BYTES)
  }, ${bytes.length}`;
}

/** Somewhere to record packets. */
export interface PacketLog extends AsyncDisposable {
  /** Record one packet. Never blocks and never throws. */
  record(direction: Direction, remote: Endpoint, bytes: Uint8Array): void;
  /** Write what is buffered now. */
  flush(): Promise<void>;
  /** Write the closing marker, flush and close the file. */
  close(): Promise<void>;
}

/** A log that records nothing (`--no-log`). */
export const nullPacketLog: PacketLog = {
  record() {},
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
  [Symbol.asyncDispose]: () => Promise.resolve(),
};

/** Options of {@linkcode openPacketLog}. */
export interface PacketLogOptions {
  /** How often buffered lines are written, in ms. Default: 200. */
  readonly flushIntervalMs?: number;
  /** Flush early when this many lines are waiting. Default: 4096. */
  readonly maxBufferedLines?: number;
  /** Called when a write fails (disk full, file removed…); logging then goes on. */
  readonly onError?: (error: unknown) => void;
}

class FilePacketLog implements PacketLog {
  #file: Deno.FsFile;
  #lines: string[] = [];
  #timer: ReturnType<typeof setInterval>;
  #writing: Promise<void> = Promise.resolve();
  #maxBuffered: number;
  #onError: (error: unknown) => void;
  #closed = false;
  #encoder = new TextEncoder();

  constructor(file: Deno.FsFile, options: PacketLogOptions) {
    this.#file = file;
    this.#maxBuffered = options.maxBufferedLines ?? 4096;
    this.#onError = options.onError ?? (() => {});
    this.#lines.push(LOG_OPEN_MARKER);
    this.#timer = setInterval(() => void this.flush(), options.flushIntervalMs ?? 200);
    Deno.unrefTimer(this.#timer);
  }

  record(direction: Direction, remote: Endpoint, bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#lines.push(formatLogLine(direction, remote, bytes));
    if (this.#lines.length >= this.#maxBuffered) void this.flush();
  }

  flush(): Promise<void> {
    if (this.#lines.length === 0) return this.#writing;
    const text = this.#lines.join("\n") + "\n";
    this.#lines = [];
    const data = this.#encoder.encode(text);
    this.#writing = this.#writing.then(async () => {
      try {
        let written = 0;
        while (written < data.length) written += await this.#file.write(data.subarray(written));
      } catch (error) {
        this.#onError(error);
      }
    });
    return this.#writing;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#timer);
    this.#lines.push(LOG_CLOSE_MARKER);
    await this.flush();
    this.#closed = true;
    this.#file.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Open (append to) a packet log file and write the opening marker.
 * Needs `--allow-write` for `path`.
 */
export async function openPacketLog(
  path: string,
  options: PacketLogOptions = {},
): Promise<PacketLog> {
  const file = await Deno.open(path, { append: true, create: true });
  return new FilePacketLog(file, options);
}
