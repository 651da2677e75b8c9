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
 * The secrets of the extended protocol (session tokens, login proofs,
 * nonces, stored keys) are shown as `(redacted)`, and a log file is created
 * readable by its owner only.
 *
 * A log that cannot be written (a full disk, an immutable file) keeps at
 * most `maxBuffered` characters of lines in memory, drops and counts the
 * lines beyond, and retries with a growing delay; once a write succeeds it
 * goes on, and one marker line ({@linkcode droppedMarker}) says where lines
 * are missing and how many.
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "./clock.ts";
import type { Endpoint } from "./plumi/address.ts";
import { printable } from "./plumi/codec.ts";
import { redactSecrets } from "./plumi/secrets.ts";
import { LogFile, type LogFileOptions } from "./log_file.ts";

/** First line written when a log opens. */
export const LOG_OPEN_MARKER = "------ INICI LOG ------";
/** Last line written when a log closes. */
export const LOG_CLOSE_MARKER = "------ FINAL LOG ------";

/** The line written where `count` lines are missing because the log could not be written. */
export function droppedMarker(count: number): string {
  return `------ ${count} LINES DROPPED: the log could not be written ------`;
}

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
 * Bytes outside printable ASCII are shown as `\xNN`; the values of secret
 * extension parameters as `(redacted)` (see `lib/plumi/secrets.ts`).
 *
 * @example
 * ```ts
 * formatLogLine("E", { ip: "10.100.100.104", port: 3344 }, bytes);
 * // "E: 10.100.100.104:UDP:3344, PLu1@PC-c:u2@PC-d, 17"
 * ```
 */
export function formatLogLine(direction: Direction, remote: Endpoint, bytes: Uint8Array): string {
  let text = printable(bytes, MAX_LOGGED_BYTES);
  // Only extension datagrams carry parameters (`;`): the original's pay one byte search.
  if (bytes.includes(0x3b)) text = redactSecrets(text);
  return `${direction}: ${remote.ip}:UDP:${remote.port}, ${text}, ${bytes.length}`;
}

/** Where the log's text goes (a file, or memory in tests). */
export interface LogSink {
  /**
   * Append `text` in full. A write that fails part way throws a
   * {@linkcode LogWriteError} saying how much of `text` was written; any
   * other error means none of it was.
   */
  write(text: string): Promise<void>;
  /** Release the sink. */
  close(): Promise<void> | void;
  /** Start a fresh file at the same path (after logrotate moved it away). Default: cannot. */
  reopen?(): Promise<void>;
  /** Move the file to `.1` (older ones up to `.keep`) and start a fresh one. Default: cannot. */
  rotate?(keep: number): Promise<void>;
  /** Bytes in the current file, for rotation by size. Default: unknown (no rotation). */
  readonly size?: number;
}

/** A sink's write that failed after part of the text reached the file. */
export class LogWriteError extends Error {
  /** Characters (UTF-16 code units) of the text that were written before the failure. */
  readonly written: number;

  constructor(message: string, written: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "LogWriteError";
    this.written = written;
  }
}

/** Options of {@linkcode PacketLog}. */
export interface PacketLogOptions {
  /** Where the text goes. */
  readonly sink: LogSink;
  /** Timers for the periodic flush and the retries. Default: the system clock. */
  readonly clock?: Clock;
  /** Lines wait at most this long before they are written, in ms. Default: 200. */
  readonly flushMs?: number;
  /**
   * Most characters of log text held in memory (lines waiting, and text a
   * failed write left); lines beyond are dropped and counted. Default: 4 Mi.
   */
  readonly maxBuffered?: number;
  /** First retry after a failed write, in ms; each further failure doubles it. Default: 500. */
  readonly retryMs?: number;
  /** Longest wait between two retries, in ms. Default: 5 000. */
  readonly maxRetryMs?: number;
  /** Called when writing starts failing (once until it works again). Default: ignore. */
  readonly onError?: (error: unknown) => void;
  /** Called when a write succeeds after failures, with the lines dropped meanwhile. Default: ignore. */
  readonly onResume?: (dropped: number) => void;
  /** Rotate the file once it holds this many bytes (see {@linkcode LogSink.rotate}); 0 never. Default: 0. */
  readonly maxFileBytes?: number;
  /** Rotated files kept (`log.1` … `log.<keep>`). Default: 5. */
  readonly keep?: number;
  /** Called when a reopen or rotation fails (the current file stays in use). Default: ignore. */
  readonly onRotateError?: (error: unknown) => void;
}

/** What a {@linkcode PacketLog} has done, for statistics. */
export interface PacketLogStats {
  /** Lines recorded (including those dropped). */
  lines: number;
  /** Lines dropped because the buffer was full. */
  dropped: number;
  /** Writes that failed. */
  failedWrites: number;
  /** Characters held in memory now. */
  buffered: number;
}

/** A buffered packet log. */
export class PacketLog implements AsyncDisposable {
  readonly #sink: LogSink;
  readonly #clock: Clock;
  readonly #flushMs: number;
  readonly #max: number;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #onResume: (dropped: number) => void;
  /** Lines waiting to be written. */
  #buffer: string[] = [];
  /** Text a failed write left, written before the buffer. */
  #pending: string[] = [];
  /** Characters in `#buffer`, `#pending` and the write in flight. */
  #held = 0;
  /** Lines dropped since the last marker went into the buffer. */
  #unmarked = 0;
  /** Lines dropped since writing last worked (for `onResume`). */
  #droppedInOutage = 0;
  #timer: TimerHandle | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** The current delay before a retry, 0 while writes work. */
  #backoff = 0;
  #closed = false;
  readonly #maxFileBytes: number;
  readonly #keep: number;
  readonly #onRotateError: (error: unknown) => void;
  #rotating = false;
  /** Counters. */
  readonly stats: PacketLogStats = { lines: 0, dropped: 0, failedWrites: 0, buffered: 0 };

  constructor(options: PacketLogOptions) {
    this.#sink = options.sink;
    this.#clock = options.clock ?? systemClock;
    this.#flushMs = options.flushMs ?? 200;
    this.#max = options.maxBuffered ?? 4 * 1024 * 1024;
    this.#retryMs = options.retryMs ?? 500;
    this.#maxRetryMs = Math.max(this.#retryMs, options.maxRetryMs ?? 5_000);
    this.#onError = options.onError ?? (() => {});
    this.#onResume = options.onResume ?? (() => {});
    this.#maxFileBytes = options.maxFileBytes ?? 0;
    this.#keep = options.keep ?? 5;
    this.#onRotateError = options.onRotateError ?? (() => {});
    this.#line(LOG_OPEN_MARKER);
  }

  /** Record one packet. Never blocks and never throws. */
  record(direction: Direction, remote: Endpoint, bytes: Uint8Array): void {
    if (this.#closed) return;
    if (this.#held + LONGEST_LINE > this.#max - MARKER_ROOM) {
      // Full (the disk fails or lags): dropped before the line is made, which costs no work and
      // leaves no garbage while a flood goes on.
      this.#drop();
      return;
    }
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

  /** Is the log failing to write (and retrying)? */
  get failing(): boolean {
    return this.#backoff > 0;
  }

  /**
   * Write out what is buffered now (one attempt, even while retries wait).
   * Resolves when the write is over, whether it worked or not.
   */
  flush(): Promise<void> {
    this.#cancelTimer();
    this.#writing = this.#writing.then(() => this.#writeOnce());
    return this.#writing;
  }

  /** Write the closing marker, flush and release the sink. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#mark(true);
    this.#push(`${LOG_CLOSE_MARKER}\n`);
    await this.flush();
    this.#cancelTimer();
    try {
      await this.#sink.close();
    } catch {
      // nothing more to do about a log that cannot close
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Close the file with its closing marker and open the path again (after
   * `mv log log.1`: a fresh log, opening marker first). Lines recorded
   * meanwhile go to the new file. Resolves when done; a failure is reported
   * to `onRotateError` and the current file stays in use.
   */
  reopen(): Promise<void> {
    return this.#restart((sink) => sink.reopen?.());
  }

  #restart(how: (sink: LogSink) => Promise<void> | undefined): Promise<void> {
    if (this.#closed) return this.#writing;
    this.#cancelTimer();
    // The old file gets what was recorded up to now, and its closing marker.
    const old = this.#buffer;
    this.#buffer = [];
    old.push(`${LOG_CLOSE_MARKER}\n`);
    this.#held += LOG_CLOSE_MARKER.length + 1;
    this.stats.lines++;
    this.#writing = this.#writing.then(async () => {
      const later = this.#buffer;
      this.#buffer = old;
      await this.#writeOnce();
      try {
        await how(this.#sink);
      } catch (error) {
        this.#onRotateError(error);
      }
      // The new file: its opening marker, then what was recorded meanwhile.
      const open = `${LOG_OPEN_MARKER}\n`;
      this.#buffer = [open, ...later, ...this.#buffer];
      this.#held += open.length;
      this.stats.lines++;
      this.stats.buffered = this.#held;
      if (!this.#closed) this.#schedule(this.#flushMs);
    });
    return this.#writing;
  }

  #line(text: string): void {
    const size = text.length + 1;
    // The last MARKER_ROOM characters are kept for the marker that says lines are missing.
    if (this.#held + size > this.#max - MARKER_ROOM) {
      this.#drop();
      return;
    }
    this.stats.lines++;
    this.#mark(false);
    this.#push(`${text}\n`);
    this.#schedule(this.#flushMs);
  }

  #drop(): void {
    this.stats.lines++;
    this.stats.dropped++;
    this.#unmarked++;
    this.#droppedInOutage++;
  }

  /**
   * Put the marker for the lines dropped so far into the buffer, if there is
   * room and writing works (or `force`): so an outage gives one marker, after
   * the lines kept, once a write has worked again.
   */
  #mark(force: boolean): void {
    if (this.#unmarked === 0 || (this.#backoff > 0 && !force)) return;
    const marker = `${droppedMarker(this.#unmarked)}\n`;
    if (!force && this.#held + marker.length > this.#max) return;
    this.#unmarked = 0;
    this.#push(marker);
  }

  #push(text: string): void {
    this.#buffer.push(text);
    this.#held += text.length;
    this.stats.buffered = this.#held;
  }

  /** Flush in `ms`, unless a flush or retry is already due. */
  #schedule(ms: number): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, ms);
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #writeOnce(): Promise<void> {
    if (this.#buffer.length === 0 && this.#pending.length === 0) return;
    const pieces = this.#pending.length > 0 ? this.#pending.concat(this.#buffer) : this.#buffer;
    this.#pending = [];
    this.#buffer = [];
    // In chunks: a retry against a file that still fails costs one chunk, not the whole buffer
    // joined and encoded again (garbage the size of the buffer at every retry).
    for (let i = 0; i < pieces.length;) {
      let j = i + 1;
      let size = pieces[i]!.length;
      while (j < pieces.length && size + pieces[j]!.length <= WRITE_CHUNK) {
        size += pieces[j++]!.length;
      }
      const text = j === i + 1 ? pieces[i]! : pieces.slice(i, j).join("");
      try {
        await this.#sink.write(text);
      } catch (error) {
        const written = error instanceof LogWriteError
          ? Math.max(0, Math.min(error.written, text.length))
          : 0;
        // Lines recorded during the write went to a fresh buffer, after the text that failed.
        this.#pending = [text.slice(written), ...pieces.slice(j)];
        this.#held -= written;
        this.stats.buffered = this.#held;
        this.#failed(error);
        return;
      }
      this.#held -= text.length;
      this.stats.buffered = this.#held;
      i = j;
    }
    if (this.#backoff > 0) {
      this.#backoff = 0;
      const dropped = this.#droppedInOutage;
      this.#droppedInOutage = 0;
      this.#onResume(dropped);
    }
    // The marker of lines dropped meanwhile, now that there is room and writing works; then
    // it and the lines that came while the write was in flight are written at the next flush.
    this.#mark(false);
    if (this.#buffer.length > 0) this.#schedule(this.#flushMs);
    if (
      this.#maxFileBytes > 0 && !this.#rotating && (this.#sink.size ?? 0) >= this.#maxFileBytes
    ) {
      this.#rotating = true;
      void this.#restart((sink) => sink.rotate?.(this.#keep)).finally(() => this.#rotating = false);
    }
  }

  #failed(error: unknown): void {
    this.stats.failedWrites++;
    if (this.#backoff === 0) {
      this.#backoff = this.#retryMs;
      this.#onError(error);
    } else this.#backoff = Math.min(this.#backoff * 2, this.#maxRetryMs);
    this.#cancelTimer();
    this.#schedule(this.#backoff);
  }
}

/** Characters of the longest line {@linkcode formatLogLine} makes (an IPv6 source, every byte `\xNN`), and its newline. */
const LONGEST_LINE = 4 * MAX_LOGGED_BYTES + 100;

/** Most characters handed to the sink in one write. */
const WRITE_CHUNK = 64 * 1024;

/** Characters kept free for a {@linkcode droppedMarker} line. */
const MARKER_ROOM = droppedMarker(Number.MAX_SAFE_INTEGER).length + 1;

/** Options of {@linkcode openFileSink}. */
export type FileSinkOptions = LogFileOptions;

/**
 * Append to the file at `path`, created readable and writable by its owner
 * only (0600: it holds the peers' addresses). An existing file that others
 * may read is tightened to 0600. It can be reopened and rotated. Needs
 * `--allow-write` for it.
 */
export async function openFileSink(path: string, options: FileSinkOptions = {}): Promise<LogSink> {
  const file = await LogFile.open(path, options);
  const encoder = new TextEncoder();
  return {
    async write(text) {
      const bytes = encoder.encode(text);
      try {
        await file.write(bytes);
      } catch (error) {
        const offset = file.written;
        if (offset === 0) throw error;
        // How many characters of `text` the written bytes hold (a character cut in two counts as unwritten).
        const { read } = encoder.encodeInto(text, new Uint8Array(offset));
        throw new LogWriteError(`Wrote ${offset} of ${bytes.length} bytes: ${error}`, read, {
          cause: error,
        });
      }
    },
    close: () => file.close(),
    reopen: () => file.reopen(),
    rotate: (keep) => file.rotate(keep),
    get size() {
      return file.size;
    },
  };
}

/** Open (append to) a packet log file and write the opening marker. */
export async function openPacketLog(
  path: string,
  options: Omit<PacketLogOptions, "sink"> & FileSinkOptions = {},
): Promise<PacketLog> {
  return new PacketLog({ ...options, sink: await openFileSink(path, options) });
}
