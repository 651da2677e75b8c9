/**
 * The packet log of the original implementation: one line per PLUMI datagram
 * sent (`E:`) or received (`R:`), between `------ INICI LOG ------` and
 * `------ FINAL LOG ------` markers. Lines are buffered and flushed on a short
 * interval and when the log closes, never written synchronously one by one.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import { printable } from "../plumi/codec.ts";

/** Where log text goes: a file, or memory in tests. */
export interface LogSink {
  /** Append `text` in full. */
  write(text: string): Promise<void>;
  /** Release the sink. */
  close(): Promise<void> | void;
}

/** Marker written when the log opens, as the original. */
export const LOG_START = "------ INICI LOG ------";
/** Marker written when the log closes, as the original. */
export const LOG_END = "------ FINAL LOG ------";

/**
 * Format one log line in the original format.
 *
 * @example
 * ```ts
 * formatLogLine("E", { ip: "10.100.100.104", port: 3344 }, bytes);
 * // "E: 10.100.100.104:UDP:3344, PLu1@PC-c:u2@PC-d, 17"
 * ```
 */
export function formatLogLine(
  direction: "E" | "R",
  remote: Endpoint,
  bytes: Uint8Array,
): string {
  return `${direction}: ${remote.ip}:UDP:${remote.port}, ${printable(bytes)}, ${bytes.length}`;
}

/** Options of {@linkcode PacketLog}. */
export interface PacketLogOptions {
  /** Where the text goes. */
  readonly sink: LogSink;
  /** Timers for the periodic flush. */
  readonly clock: Clock;
  /** Flush interval in milliseconds. Default: 250. */
  readonly flushMs?: number;
  /** Called when a write fails (the log then stops writing). Default: ignore. */
  readonly onError?: (error: unknown) => void;
}

/** A buffered PLUMI packet log. */
export class PacketLog {
  #sink: LogSink;
  #clock: Clock;
  #flushMs: number;
  #onError: (error: unknown) => void;
  #buffer: string[] = [];
  #timer: TimerHandle | undefined;
  #writing: Promise<void> = Promise.resolve();
  #failed = false;
  #closed = false;

  constructor(options: PacketLogOptions) {
    this.#sink = options.sink;
    this.#clock = options.clock;
    this.#flushMs = options.flushMs ?? 250;
    this.#onError = options.onError ?? (() => {});
    this.#line(LOG_START);
  }

  /** Record a datagram sent to `remote`. */
  sent(remote: Endpoint, bytes: Uint8Array): void {
    this.#line(formatLogLine("E", remote, bytes));
  }

  /** Record a datagram received from `remote`. */
  received(remote: Endpoint, bytes: Uint8Array): void {
    this.#line(formatLogLine("R", remote, bytes));
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
    this.#line(LOG_END);
    this.#closed = true;
    await this.flush();
    try {
      await this.#sink.close();
    } catch {
      // nothing more to do about a log that cannot close
    }
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

/**
 * Open `path` for appending (created if missing) as a {@linkcode LogSink}.
 * Needs `--allow-write` for the path only.
 */
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
