/**
 * The packet log of the original implementation, for the node and the
 * agent alike: one line per PLUMI packet sent (`E`) or received (`R`),
 * between opening and closing marker lines.
 *
 * ```
 * ------ INICI LOG ------
 * E: 10.100.100.104:UDP:3344, PLu1@PC-c:u2@PC-d, 17
 * R: 10.100.100.104:UDP:3344, RL0u1@PC-c:u2@PC-d:10.100.100.102:43038, 39
 * ------ FINAL LOG ------
 * ```
 *
 * Unlike the original, lines are buffered and written `flushMs` after the
 * first one of a batch (and at close), so the log never slows the sender
 * down to the disk's pace. A crash (`kill -9`, power loss) loses at most the
 * lines of the last interval; a clean shutdown loses nothing.
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
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

/**
 * Format one log line exactly as the original does (without the newline).
 * Bytes outside printable ASCII are shown as `\xNN`.
 *
 * @example
 * ```ts
 * formatLogLine("E", { ip: "10.100.100.104", port: 3344 }, bytes);
 * // "E: 10.100.100.104:UDP:3344, PLu1@PC-c:u2@PC-d, 17"
 * ```
 */
export function formatLogLine(direction: Direction, remote: Endpoint, bytes: Uint8Array): string {
  return `${direction}: ${remote.ip}:UDP:${remote.port}, ${
    printable(bytes, MAX_LOGGED_BYTES)
  }, ${bytes.length}`;
}

/** Where the log's text goes (a file, or memory in tests). */
export interface LogSink {
  /** Append `text` in full. */
  write(text: string): Promise<void>;
  /** Release the sink. */
  close(): Promise<void> | void;
}

/** Options of {@linkcode PacketLog}. */
export interface PacketLogOptions {
  /** Where the text goes. */
  readonly sink: LogSink;
  /** Timers for the periodic flush. Default: the system clock. */
  readonly clock?: Clock;
  /** Lines wait at most this long before they are written, in ms. Default: 200. */
  readonly flushMs?: number;
  /** Called when a write fails (the log then stops writing). Default: ignore. */
  readonly onError?: (error: unknown) => void;
}

/** A buffered packet log. */
export class PacketLog implements AsyncDisposable {
  readonly #sink: LogSink;
  readonly #clock: Clock;
  readonly #flushMs: number;
  readonly #onError: (error: unknown) => void;
  #buffer: string[] = [];
  #timer: TimerHandle | undefined;
  #writing: Promise<void> = Promise.resolve();
  #failed = false;
  #closed = false;

  constructor(options: PacketLogOptions) {
    this.#sink = options.sink;
    this.#clock = options.clock ?? systemClock;
    this.#flushMs = options.flushMs ?? 200;
    this.#onError = options.onError ?? (() => {});
    this.#line(LOG_OPEN_MARKER);
  }

  /** Record one packet. Never blocks and never throws. */
  record(direction: Direction, remote: Endpoint, bytes: Uint8Array): void {
    this.#line(formatLogLine(direction, remote, bytes));
  }

  /** Record a datagram sent to `remote`. */
  sent(remote: Endpoint, bytes: Uint8Array): void {
    this.record("E", remote, bytes);
  }

  /** Record a datagram received from `remote`. */
  received(remote: Endpoint, bytes: Uint8Array): void {
    this.record("R", remote, bytes);
  }

  /** Write out what is buffered. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#buffer.length === 0 || this.#failed) return this.#writing;
    const text = this.#buffer.join("");
    this.#buffer = [];
    this.#writing = this.#writing.then(async () => {
      if (this.#failed) return;
      try {
        await this.#sink.write(text);
      } catch (error) {
        this.#failed = true;
        this.#onError(error);
      }
    });
    return this.#writing;
  }

  /** Write the closing marker, flush and release the sink. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#line(LOG_CLOSE_MARKER);
    this.#closed = true;
    await this.flush();
    try {
      await this.#sink.close();
    } catch {
      // nothing more to do about a log that cannot close
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #line(text: string): void {
    if (this.#closed) return;
    this.#buffer.push(`${text}\n`);
    if (this.#timer === undefined && !this.#failed) {
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#flushMs);
    }
  }
}

/** Append to the file at `path` (created if missing). Needs `--allow-write` for it. */
export async function openFileSink(path: string): Promise<LogSink> {
  const file = await Deno.open(path, { write: true, append: true, create: true });
  const encoder = new TextEncoder();
  return {
    async write(text) {
      const bytes = encoder.encode(text);
      let offset = 0;
      while (offset < bytes.length) offset += await file.write(bytes.subarray(offset));
    },
    close() {
      file.close();
    },
  };
}

/** Open (append to) a packet log file and write the opening marker. */
export async function openPacketLog(
  path: string,
  options: Omit<PacketLogOptions, "sink"> = {},
): Promise<PacketLog> {
  return new PacketLog({ ...options, sink: await openFileSink(path) });
}
