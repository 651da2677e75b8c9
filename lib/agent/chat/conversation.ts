/**
 * One PMI conversation over one TCP connection: the nickname exchange in the
 * order of the reference (the caller sends `N` first, the callee answers `N`),
 * then `L` frames both ways until either side closes. A peer that sends bad
 * data, trickles its bytes, stops reading, or sends nothing at all while a
 * nickname is due, ends the conversation with an error; it never hangs the
 * agent.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import { PmiStreamError } from "../../pmi/decoder.ts";
import { encodeLine, encodeNick } from "../../pmi/frame.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import {
  describeError,
  GroupProtocolError,
  HandshakeError,
  OverloadError,
  PeerTimeoutError,
} from "../errors.ts";
import { formatSeconds, PmiLink } from "./pmi_link.ts";
import { sanitize } from "../terminal/ui.ts";
import { cutLine } from "../terminal/cut_line.ts";

export { formatSeconds };

/** Which side opened the connection. */
export type ConversationRole = "caller" | "callee";

/** Options of {@linkcode Conversation.open} and {@linkcode exchangeNicks}. */
export interface ConversationOptions {
  /** The connected TCP stream; the conversation owns it from now on. */
  readonly conn: StreamConn;
  /** `caller` sends its nickname first; `callee` waits for the caller's. */
  readonly role: ConversationRole;
  /** Our nickname. */
  readonly nick: string;
  /** Timers for the handshake and frame deadlines. */
  readonly clock: Clock;
  /** The whole handshake must be over within this many ms of the connection. Default: 10000. */
  readonly nickTimeoutMs?: number;
  /** A frame whose first byte arrived must be complete within this many ms. Default: 5000. */
  readonly frameTimeoutMs?: number;
  /** Most bytes waiting to be written before the peer is cut off. Default: 1 MiB. */
  readonly maxQueuedBytes?: number;
  /** Frame types accepted besides `N` and `L` (group links). Default: none. */
  readonly extensionTypes?: string;
  /** One frame per write, this many ms apart when several are queued (original peers). Default: none. */
  readonly paceMs?: number;
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

/** A connection whose nicknames were exchanged, its handshake deadline still running. */
export interface Handshake {
  readonly link: PmiLink;
  readonly peerNick: string;
  /** Name what is awaited next, for the message if the deadline passes (e.g. `"group request"`). */
  expect(what: string): void;
  /** The handshake is over: stop its deadline. */
  done(): void;
}

/**
 * Exchange nicknames on `conn` and return the link with the deadline still
 * running, for protocols that continue the handshake (group links). Throws
 * {@linkcode HandshakeError} (and closes `conn`) when the peer sends bad data,
 * a line instead of its nickname, closes, or is too slow.
 */
export async function exchangeNicks(options: ConversationOptions): Promise<Handshake> {
  const { role, clock } = options;
  const timeoutMs = options.nickTimeoutMs ?? 10_000;
  const link = new PmiLink({
    conn: options.conn,
    clock,
    extensionTypes: options.extensionTypes,
    frameTimeoutMs: options.frameTimeoutMs,
    maxQueuedBytes: options.maxQueuedBytes,
    paceMs: options.paceMs,
  });
  let awaited = "nickname";
  let timer: TimerHandle | undefined = clock.setTimeout(() => {
    timer = undefined;
    link.fail(new HandshakeError(`no ${awaited} received within ${formatSeconds(timeoutMs)}`));
  }, timeoutMs);
  const done = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
  };
  try {
    if (role === "caller") link.write(encodeNick(options.nick));
    const frame = await link.next();
    if (frame === null) {
      throw new HandshakeError("the peer closed the connection before its nickname");
    }
    if (frame.kind !== "nick") {
      throw new HandshakeError(
        frame.kind === "line"
          ? "the peer sent a line before its nickname"
          : "the peer sent an extension frame before its nickname",
      );
    }
    if (role === "callee") link.write(encodeNick(options.nick));
    return {
      link,
      peerNick: frame.text,
      expect: (what) => (awaited = what),
      done,
    };
  } catch (error) {
    done();
    link.close();
    throw asHandshakeError(error, "a nickname");
  }
}

/** The error a failed handshake is reported with, `awaiting` naming what was due. */
export function asHandshakeError(error: unknown, awaiting: string): HandshakeError {
  if (error instanceof HandshakeError) return error;
  if (error instanceof PmiStreamError) {
    return new HandshakeError(`bad data instead of ${awaiting}: ${error.message}`, {
      cause: error,
    });
  }
  if (
    error instanceof PeerTimeoutError || error instanceof OverloadError ||
    error instanceof GroupProtocolError
  ) {
    return new HandshakeError(error.message, { cause: error });
  }
  return new HandshakeError(`connection failed: ${describeError(error)}`, { cause: error });
}

/**
 * An established PMI conversation.
 *
 * @example
 * ```ts
 * const talk = await Conversation.open({ conn, role: "caller", nick: "Laura", clock: systemClock });
 * const ended = talk.run({ onLine: (text) => console.log(`${talk.peerNick}: ${text}`) });
 * talk.send("hello");
 * talk.close();
 * await ended; // { reason: "local" }
 * ```
 */
export class Conversation {
  readonly #link: PmiLink;
  #peerNick: string;
  #closedLocally = false;

  /** Wrap a link whose nicknames were exchanged (see {@linkcode exchangeNicks}). */
  constructor(link: PmiLink, peerNick: string) {
    this.#link = link;
    this.#peerNick = peerNick;
  }

  /**
   * Exchange nicknames on `conn`. Throws {@linkcode HandshakeError} (and
   * closes `conn`) when the peer sends bad data, a line instead of its
   * nickname, closes, or stays silent past the timeout.
   */
  static async open(options: ConversationOptions): Promise<Conversation> {
    const handshake = await exchangeNicks(options);
    handshake.done();
    return new Conversation(handshake.link, handshake.peerNick);
  }

  /** The peer's TCP endpoint. */
  get remote(): Endpoint {
    return this.#link.remote;
  }

  /** The peer's nickname (as last sent). */
  get peerNick(): string {
    return this.#peerNick;
  }

  /** Read frames until the conversation ends; resolves (never rejects) with how it ended. */
  async run(handlers: ConversationHandlers): Promise<ConversationEnd> {
    try {
      for (;;) {
        const frame = await this.#link.next();
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
      if (this.#closedLocally && !this.#link.failure) return { reason: "local" };
      return { reason: "error", error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      this.#link.close();
    }
  }

  /**
   * Queue one line for the peer (several `L` frames past 99 bytes; `L00`
   * when empty). Never waits; `false` if the conversation is over or the peer
   * stopped reading (the conversation then ends with an error).
   */
  send(text: string): boolean {
    // Cut between words and never inside a character (issue 19): one write, several frames.
    const frames = cutLine(text).map(encodeLine);
    return this.#link.write(frames.length === 1 ? frames[0]! : concatBytes(frames));
  }

  /** Wait until what was sent is written, or `timeoutMs` passes. */
  flush(timeoutMs: number): Promise<void> {
    return this.#link.flush(timeoutMs);
  }

  /** End the conversation from our side (idempotent). */
  close(): void {
    if (this.#closedLocally) return;
    this.#closedLocally = true;
    this.#link.close();
  }

  /** Whether {@linkcode Conversation.close} was called or the conversation ended. */
  get closed(): boolean {
    return this.#closedLocally || this.#link.closed;
  }
}

/** Why a conversation ended, in words. */
export function explainEnd(end: ConversationEnd, peerNick: string): string {
  const nick = sanitize(peerNick);
  switch (end.reason) {
    case "local":
      return "you left";
    case "peer-closed":
      return `${nick} closed the connection`;
    case "error":
      if (end.error instanceof PmiStreamError) return `bad data from ${nick}: ${end.error.message}`;
      if (end.error.name === "PeerTimeoutError" || end.error.name === "OverloadError") {
        return `${nick} ${end.error.message}`;
      }
      return `connection lost: ${describeError(end.error)}`;
  }
}

function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
