/**
 * One PMI connection as the agent drives it, whatever it carries (a
 * conversation, a group link, a relayed original agent). Reading: frames
 * decoded from the stream in any segmentation, with a deadline on every frame
 * once its first byte arrived, so a peer trickling a byte every few seconds is
 * cut off. Writing: a queue that never blocks the caller and holds at most a
 * bounded number of bytes, so a peer that stops reading is cut off instead of
 * holding the agent (or a whole group) back. Memory per connection is bounded:
 * one read buffer, one partial frame, and the write queue. Towards a peer that
 * may be an original agent (which decodes one frame per read of 102 bytes and
 * drops the rest), frames go one per write, each paced from the one before, so
 * that they do not merge.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import { PmiDecoder } from "../../pmi/decoder.ts";
import type { PmiFrame } from "../../pmi/frame.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { OverloadError, PeerTimeoutError } from "../errors.ts";
import { why } from "../terminal/texts.ts";

/** Options of {@linkcode PmiLink}. */
export interface PmiLinkOptions {
  /** The connected stream; the link owns it from now on. */
  readonly conn: StreamConn;
  /** Timers for the frame deadline. */
  readonly clock: Clock;
  /** Frame types accepted besides `N` and `L`. Default: none. */
  readonly extensionTypes?: string;
  /** A frame whose first byte arrived must be complete within this many ms. Default: 5000. */
  readonly frameTimeoutMs?: number;
  /** Most bytes waiting to be written before the peer is cut off as not reading. Default: 1 MiB. */
  readonly maxQueuedBytes?: number;
  /**
   * Write one frame per write, each at least this many ms after the one
   * before, whether it was queued behind it or written later (for original
   * peers: {@linkcode ORIGINAL_PACE_MS}). Default: none, queued frames are
   * joined into large writes.
   */
  readonly paceMs?: number;
}

/**
 * The gap between two frames written to a peer that may be an original agent:
 * it reads at most 102 bytes at a time and decodes only the first frame, so
 * two frames in its socket buffer at once would lose the second.
 */
export const ORIGINAL_PACE_MS = 50;

const READ_BUFFER = 4_096;
/** Largest single write: queued frames are joined up to this size. */
const WRITE_CHUNK = 64 * 1024;

/** `10000` → `"10 s"`, `1500` → `"1.5 s"`. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function endpointOf(addr: Deno.Addr): Endpoint {
  return "hostname" in addr ? { ip: addr.hostname, port: addr.port } : { ip: "?", port: 0 };
}

/**
 * A PMI connection with bounded reading and writing.
 *
 * @example
 * ```ts
 * const link = new PmiLink({ conn, clock: systemClock });
 * link.write(encodeNick("Laura"));
 * const frame = await link.next(); // { kind: "nick", text: "Joan" }, or null at the end
 * link.close();
 * ```
 */
export class PmiLink {
  /** The peer's TCP endpoint. */
  readonly remote: Endpoint;
  readonly #conn: StreamConn;
  readonly #clock: Clock;
  readonly #decoder: PmiDecoder;
  readonly #frameTimeoutMs: number;
  readonly #maxQueued: number;
  #paceMs: number | undefined;
  /** When the last paced frame was written (clock time); `-Infinity` before the first. */
  #pacedAt = -Infinity;
  readonly #frames: PmiFrame[] = [];
  #ended = false;
  #failure: Error | undefined;
  #closed = false;
  #inflight: Promise<void> | undefined;
  #frameTimer: TimerHandle | undefined;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #drained: Array<() => void> = [];
  /** When the last bytes arrived (clock time). */
  lastReceived: number;
  /** When bytes were last queued for the peer (clock time). */
  lastSent: number;

  constructor(options: PmiLinkOptions) {
    this.#conn = options.conn;
    this.#clock = options.clock;
    this.#decoder = new PmiDecoder({ extensionTypes: options.extensionTypes });
    this.#frameTimeoutMs = options.frameTimeoutMs ?? 5_000;
    this.#maxQueued = options.maxQueuedBytes ?? 1024 * 1024;
    this.#paceMs = options.paceMs;
    if (this.#paceMs !== undefined) {
      // Each frame its own TCP segment: Nagle's algorithm would join them again.
      try {
        (options.conn as Partial<Pick<Deno.TcpConn, "setNoDelay">>).setNoDelay?.(true);
      } catch {
        // not a TCP socket (tests), or already closed
      }
    }
    this.remote = endpointOf(options.conn.remoteAddr);
    this.lastReceived = this.lastSent = this.#clock.now();
  }

  /** Why the link failed (bad data, a timeout, an overrun, a network error), if it did. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Whether {@linkcode PmiLink.close} or {@linkcode PmiLink.fail} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stop pacing: the peer is known to be one of ours (frames may go back to back). */
  unpace(): void {
    this.#paceMs = undefined;
  }

  /** Whether bytes are queued or being written. */
  get writing(): boolean {
    return this.#writing || this.#queue.length > 0;
  }

  /** Resolves once everything queued is written, or the link closes. */
  drained(): Promise<void> {
    if (!this.writing || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.#queued;
  }

  /**
   * The next frame; `null` at the end of the stream or once closed here.
   * Throws the link's failure: a `PmiStreamError`, a {@linkcode PeerTimeoutError},
   * an {@linkcode OverloadError} or a network error. Frames decoded before a
   * failure are returned first.
   */
  async next(): Promise<PmiFrame | null> {
    for (;;) {
      if (this.#closed && !this.#failure) return null;
      const frame = this.#frames.shift();
      if (frame) return frame;
      if (this.#failure) throw this.#failure;
      if (this.#ended || this.#closed) return null;
      this.#inflight ??= this.#fill();
      try {
        await this.#inflight;
      } finally {
        this.#inflight = undefined;
      }
    }
  }

  async #fill(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER);
    let count: number | null;
    try {
      count = await this.#conn.read(buffer);
    } catch (error) {
      if (!this.#closed) this.fail(error instanceof Error ? error : new Error(String(error)));
      this.#ended = true;
      return;
    }
    if (count === null) {
      this.#ended = true;
      this.#stopFrameTimer();
      return;
    }
    this.lastReceived = this.#clock.now();
    const result = this.#decoder.push(buffer.subarray(0, count));
    this.#frames.push(...result.frames);
    if (result.error) {
      this.fail(result.error);
      return;
    }
    if (this.#decoder.pendingBytes === 0) this.#stopFrameTimer();
    else if (result.frames.length > 0 || this.#frameTimer === undefined) this.#startFrameTimer();
  }

  #startFrameTimer(): void {
    this.#stopFrameTimer();
    this.#frameTimer = this.#clock.setTimeout(() => {
      this.#frameTimer = undefined;
      this.fail(
        new PeerTimeoutError(why.slowFrame(formatSeconds(this.#frameTimeoutMs))),
      );
    }, this.#frameTimeoutMs);
  }

  #stopFrameTimer(): void {
    if (this.#frameTimer !== undefined) this.#clock.clearTimeout(this.#frameTimer);
    this.#frameTimer = undefined;
  }

  /**
   * Queue `bytes` for the peer; never waits. Returns `false` when the link is
   * closed, or when the queue would exceed its bound (the link then fails
   * with an {@linkcode OverloadError}).
   */
  write(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    if (this.#queued + bytes.length > this.#maxQueued) {
      this.fail(
        new OverloadError(why.notReading(Math.ceil(this.#queued / 1024))),
      );
      return false;
    }
    if (this.#paceMs === undefined) this.#queue.push(bytes);
    else this.#queue.push(...splitFrames(bytes));
    this.#queued += bytes.length;
    this.lastSent = this.#clock.now();
    if (!this.#writing) void this.#drain();
    return true;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        if (this.#paceMs !== undefined) {
          // A frame written just after the last one, queued or not, would
          // share the original agent's read with it and be lost.
          const wait = this.#pacedAt + this.#paceMs - this.#clock.now();
          if (wait > 0) await this.#pause(wait);
          if (this.#closed) break;
        }
        const chunk = this.#paceMs === undefined ? this.#takeChunk() : this.#queue.shift()!;
        let offset = 0;
        while (offset < chunk.length) offset += await this.#conn.write(chunk.subarray(offset));
        this.#queued -= chunk.length;
        this.#pacedAt = this.#clock.now();
      }
    } catch (error) {
      if (!this.#closed) this.fail(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.#writing = false;
      for (const wake of this.#drained.splice(0)) wake();
    }
  }

  /** Wait `ms`, or less if the link closes meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.#clock.setTimeout(resolve, ms);
      // Closing wakes the drained waiters: then the pause ends at once.
      this.#drained.push(() => {
        this.#clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  #takeChunk(): Uint8Array {
    if (this.#queue.length === 1 || this.#queue[0]!.length >= WRITE_CHUNK) {
      return this.#queue.shift()!;
    }
    let size = 0;
    let n = 0;
    while (n < this.#queue.length && size + this.#queue[n]!.length <= WRITE_CHUNK) {
      size += this.#queue[n]!.length;
      n++;
    }
    const out = new Uint8Array(size);
    let offset = 0;
    for (const part of this.#queue.splice(0, n)) {
      out.set(part, offset);
      offset += part.length;
    }
    return out;
  }

  /** Wait until everything queued is written, the link closes, or `timeoutMs` passes. */
  async flush(timeoutMs: number): Promise<void> {
    if (!this.#writing || this.#closed) return;
    let timer: TimerHandle | undefined;
    await new Promise<void>((resolve) => {
      this.#drained.push(resolve);
      timer = this.#clock.setTimeout(resolve, timeoutMs);
    });
    this.#clock.clearTimeout(timer!);
  }

  /** Close because of `error`: {@linkcode PmiLink.next} throws it from now on (the first one wins). */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#shut();
  }

  /** Close from our side (idempotent); {@linkcode PmiLink.next} then returns `null`. */
  close(): void {
    this.#shut();
  }

  #shut(): void {
    this.#stopFrameTimer();
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    for (const wake of this.#drained.splice(0)) wake();
  }
}

/** Cut encoded PMI frames, back to back, into one array per frame. */
function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const length = bytes.length - offset >= 3
      ? (bytes[offset + 1]! - 0x30) * 10 + (bytes[offset + 2]! - 0x30)
      : bytes.length;
    const end = Math.min(bytes.length, offset + 3 + Math.max(0, length));
    frames.push(bytes.subarray(offset, end));
    offset = end;
  }
  return frames;
}
