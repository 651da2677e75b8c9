/**
 * One PMI conversation over one TCP connection: the nickname exchange in the
 * order of the reference (the caller sends `N` first, the callee answers `N`),
 * then `L` frames both ways until either side closes. A peer that sends bad
 * data, or nothing at all while a nickname is due, ends the conversation with
 * an error; it never hangs the agent.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../clock.ts";
import type { Endpoint } from "../plumi/address.ts";
import { PmiDecoder, PmiStreamError } from "../pmi/decoder.ts";
import { encodeLine, encodeNick, type PmiFrame } from "../pmi/frame.ts";
import type { StreamConn } from "../transport/tcp.ts";
import { describeError, HandshakeError } from "./errors.ts";

/** Which side opened the connection. */
export type ConversationRole = "caller" | "callee";

/** Options of {@linkcode Conversation.open}. */
export interface ConversationOptions {
  /** The connected TCP stream; the conversation owns it from now on. */
  readonly conn: StreamConn;
  /** `caller` sends its nickname first; `callee` waits for the caller's. */
  readonly role: ConversationRole;
  /** Our nickname. */
  readonly nick: string;
  /** Timers for the nickname timeout. */
  readonly clock: Clock;
  /** Give up when the peer's nickname has not arrived after this many ms. Default: 10000. */
  readonly nickTimeoutMs?: number;
}

/** How a conversation ended. */
export type ConversationEnd =
  | { readonly reason: "local" }
  | { readonly reason: "peer-closed" }
  | { readonly reason: "error"; readonly error: Error };

/** What {@linkcode Conversation.run} reports while the conversation lasts. */
export interface ConversationHandlers {
  /** A line (one `L` frame) arrived. */
  onLine(text: string): void;
  /** The peer sent a new nickname in the middle of the conversation. */
  onNick?(nick: string): void;
}

const READ_BUFFER = 4_096;

/** Reads PMI frames from a TCP stream, whatever its segmentation. */
class FrameReader {
  readonly #conn: StreamConn;
  readonly #decoder = new PmiDecoder();
  readonly #frames: PmiFrame[] = [];
  #error: PmiStreamError | undefined;
  #ended = false;
  #inflight: Promise<void> | undefined;

  constructor(conn: StreamConn) {
    this.#conn = conn;
  }

  /** The next frame; `null` at the end of the stream. Throws on bad data or a broken connection. */
  async next(): Promise<PmiFrame | null> {
    for (;;) {
      const frame = this.#frames.shift();
      if (frame) return frame;
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
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
    const count = await this.#conn.read(buffer);
    if (count === null) {
      this.#ended = true;
      return;
    }
    const result = this.#decoder.push(buffer.subarray(0, count));
    this.#frames.push(...result.frames);
    if (result.error) this.#error = result.error;
  }
}

async function writeAll(conn: StreamConn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function endpointOf(addr: Deno.Addr): Endpoint {
  return "hostname" in addr ? { ip: addr.hostname, port: addr.port } : { ip: "?", port: 0 };
}

/**
 * An established PMI conversation.
 *
 * @example
 * ```ts
 * const talk = await Conversation.open({ conn, role: "caller", nick: "Laura", clock: systemClock });
 * const ended = talk.run({ onLine: (text) => console.log(`${talk.peerNick}: ${text}`) });
 * await talk.send("hello");
 * talk.close();
 * await ended; // { reason: "local" }
 * ```
 */
export class Conversation {
  readonly #conn: StreamConn;
  readonly #reader: FrameReader;
  #peerNick: string;
  #closedLocally = false;
  #writing: Promise<void> = Promise.resolve();
  /** The peer's TCP endpoint. */
  readonly remote: Endpoint;

  private constructor(conn: StreamConn, reader: FrameReader, peerNick: string) {
    this.#conn = conn;
    this.#reader = reader;
    this.#peerNick = peerNick;
    this.remote = endpointOf(conn.remoteAddr);
  }

  /**
   * Exchange nicknames on `conn`. Throws {@linkcode HandshakeError} (and
   * closes `conn`) when the peer sends bad data, a line instead of its
   * nickname, closes, or stays silent past the timeout.
   */
  static async open(options: ConversationOptions): Promise<Conversation> {
    const { conn, role, clock } = options;
    const timeoutMs = options.nickTimeoutMs ?? 10_000;
    const reader = new FrameReader(conn);
    try {
      if (role === "caller") await writeAll(conn, encodeNick(options.nick));
      const peerNick = await readNick(reader, clock, timeoutMs, conn);
      if (role === "callee") await writeAll(conn, encodeNick(options.nick));
      return new Conversation(conn, reader, peerNick);
    } catch (error) {
      closeQuietly(conn);
      if (error instanceof HandshakeError) throw error;
      if (error instanceof PmiStreamError) {
        throw new HandshakeError(`bad data instead of a nickname: ${error.message}`, {
          cause: error,
        });
      }
      throw new HandshakeError(`connection failed: ${describeError(error)}`, { cause: error });
    }
  }

  /** The peer's nickname (as last sent). */
  get peerNick(): string {
    return this.#peerNick;
  }

  /** Read frames until the conversation ends; resolves (never rejects) with how it ended. */
  async run(handlers: ConversationHandlers): Promise<ConversationEnd> {
    try {
      for (;;) {
        const frame = await this.#reader.next();
        if (frame === null) {
          return this.#closedLocally ? { reason: "local" } : { reason: "peer-closed" };
        }
        if (frame.kind === "line") handlers.onLine(frame.text);
        else if (frame.kind === "nick") {
          this.#peerNick = frame.text;
          handlers.onNick?.(frame.text);
        }
      }
    } catch (error) {
      if (this.#closedLocally) return { reason: "local" };
      return { reason: "error", error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      this.close();
    }
  }

  /** Send one line (several `L` frames past 99 bytes; `L00` when empty). */
  send(text: string): Promise<void> {
    const bytes = encodeLine(text);
    const write = this.#writing.then(() => writeAll(this.#conn, bytes));
    this.#writing = write.catch(() => {});
    return write;
  }

  /** End the conversation from our side (idempotent). */
  close(): void {
    if (this.#closedLocally) return;
    this.#closedLocally = true;
    closeQuietly(this.#conn);
  }

  /** Whether {@linkcode Conversation.close} was called or the conversation ended. */
  get closed(): boolean {
    return this.#closedLocally;
  }
}

async function readNick(
  reader: FrameReader,
  clock: Clock,
  timeoutMs: number,
  conn: StreamConn,
): Promise<string> {
  let timer: TimerHandle | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = clock.setTimeout(() => {
      reject(new HandshakeError(`no nickname received within ${formatSeconds(timeoutMs)}`));
      closeQuietly(conn);
    }, timeoutMs);
  });
  const next = reader.next();
  // Whichever loses the race must not surface as an unhandled rejection.
  next.catch(() => {});
  timeout.catch(() => {});
  try {
    const frame = await Promise.race([next, timeout]);
    if (frame === null) {
      throw new HandshakeError("the peer closed the connection before its nickname");
    }
    if (frame.kind !== "nick") throw new HandshakeError("the peer sent a line before its nickname");
    return frame.text;
  } finally {
    clock.clearTimeout(timer!);
  }
}

/** `10000` → `"10 s"`, `1500` → `"1.5 s"`. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function closeQuietly(conn: StreamConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
