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
import { encodeLine, encodeNick, type PmiFrame } from "../../pmi/frame.ts";
import type { ReceiptBook } from "./receipts.ts";
import { type LineReceipts, SecureLines } from "./secure_lines.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import {
  describeError,
  GroupProtocolError,
  HandshakeError,
  OverloadError,
  PeerTimeoutError,
} from "../errors.ts";
import { formatSeconds, PmiLink } from "./pmi_link.ts";
import { sanitize, why } from "../terminal/texts.ts";
import type { Keyring } from "./keyring.ts";
import {
  ChannelError,
  DEFAULT_SECURE_GRACE_MS,
  nickOnWire,
  SECURE_FRAME_TYPES,
  secureAsCallee,
  secureAsCaller,
  type Secured,
  type Security,
} from "./secure.ts";
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
  /** Encrypt the conversation when the peer can (see `secure.ts`). Default: always in clear. */
  readonly secure?: SecureConversationOptions;
  /**
   * Called once the nicknames are exchanged, before the encrypted handshake
   * (if any): the connection is no longer being set up. Default: nothing.
   */
  readonly onNicks?: (peerNick: string) => void;
}

/** How a conversation is encrypted. */
export interface SecureConversationOptions {
  /** Our identity and the pinned keys. */
  readonly keyring: Keyring;
  /** Caller: the address called, when its `RL0` said `e=1`; without it the caller talks in clear. */
  readonly calledAddress?: string;
  /** Callee: how long to wait for the caller's first `H` frame, ms. Default: 400. */
  readonly graceMs?: number;
  /** Refuse a conversation in clear (`--require-encryption`). Default: false. */
  readonly require?: boolean;
  /** The key the node vouches for an address, checked at first contact. Default: none. */
  readonly vouch?: (address: string) => Promise<Uint8Array | undefined>;
  /**
   * Message ids and receipts with peers that speak them (`receipts.ts`):
   * unacknowledged lines are kept here and sent again in the next
   * conversation with the same address. Default: none (lines carry no ids).
   */
  readonly receipts?: ReceiptBook;
  /** How long to wait for the peer's receipts hello before treating it as an agent without, ms. Default: 5000. */
  readonly helloTimeoutMs?: number;
}

/** How a conversation ended. */
export type ConversationEnd =
  | { readonly reason: "local" }
  | { readonly reason: "peer-closed" }
  | { readonly reason: "error"; readonly error: Error };

/** What {@linkcode Conversation.run} reports while the conversation lasts. */
export interface ConversationHandlers {
  /** A line (one `L` frame, or one line of an encrypted record) arrived, with its message id if it had one. */
  onLine(text: string, messageId?: string): void;
  /** The peer acknowledged these lines (their message ids, as given to `send`). */
  onDelivered?(messageIds: readonly string[]): void;
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
    extensionTypes: options.extensionTypes ?? secureTypes(options),
    frameTimeoutMs: options.frameTimeoutMs,
    maxQueuedBytes: options.maxQueuedBytes,
    paceMs: options.paceMs,
  });
  let awaited: string = why.awaited.nick;
  let timer: TimerHandle | undefined = clock.setTimeout(() => {
    timer = undefined;
    link.fail(new HandshakeError(why.nothingReceived(awaited, formatSeconds(timeoutMs))));
  }, timeoutMs);
  const done = () => {
    if (timer !== undefined) clock.clearTimeout(timer);
    timer = undefined;
  };
  try {
    if (role === "caller") link.write(encodeNick(options.nick));
    const frame = await link.next();
    if (frame === null) {
      throw new HandshakeError(why.closedBeforeNick());
    }
    if (frame.kind !== "nick") {
      throw new HandshakeError(
        frame.kind === "line" ? why.lineBeforeNick() : why.extensionBeforeNick(),
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
    throw asHandshakeError(error, why.awaited.aNick);
  }
}

/** Frame types a conversation must accept to be encrypted: all for a callee, the caller's if `e=1`. */
function secureTypes(options: ConversationOptions): string | undefined {
  const secure = options.secure;
  if (!secure) return undefined;
  return options.role === "callee" || secure.calledAddress ? SECURE_FRAME_TYPES : undefined;
}

/** The error a failed handshake is reported with, `awaiting` naming what was due. */
export function asHandshakeError(error: unknown, awaiting: string): HandshakeError {
  if (error instanceof HandshakeError) return error;
  if (error instanceof PmiStreamError) {
    return new HandshakeError(why.badDataInstead(awaiting, error.message), {
      cause: error,
    });
  }
  if (
    error instanceof PeerTimeoutError || error instanceof OverloadError ||
    error instanceof GroupProtocolError
  ) {
    return new HandshakeError(error.message, { cause: error });
  }
  return new HandshakeError(why.connectionFailed(describeError(error)), { cause: error });
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
  /** The lines both ways, when encrypted. */
  readonly #secure: SecureLines | undefined;
  readonly #security: Security;
  /** A frame already being read when the conversation was handed over (a callee in clear). */
  #first: Promise<PmiFrame | null> | undefined;

  /**
   * Wrap a link whose nicknames were exchanged (see {@linkcode exchangeNicks}),
   * encrypted when `secured` is given, with message ids and receipts when
   * `receipts` is given too.
   */
  constructor(
    link: PmiLink,
    peerNick: string,
    secured?: Secured,
    first?: Promise<PmiFrame | null>,
    receipts?: LineReceipts,
  ) {
    this.#link = link;
    this.#peerNick = peerNick;
    // The peer is one of ours: frames need not be paced as for an original agent.
    if (secured) link.unpace();
    this.#secure = secured && new SecureLines(link, secured.channel, receipts);
    this.#security = secured?.security ?? { kind: "clear" };
    this.#first = first;
  }

  /**
   * Exchange nicknames on `conn`. Throws {@linkcode HandshakeError} (and
   * closes `conn`) when the peer sends bad data, a line instead of its
   * nickname, closes, or stays silent past the timeout.
   */
  static async open(options: ConversationOptions): Promise<Conversation> {
    const handshake = await exchangeNicks(options);
    options.onNicks?.(handshake.peerNick);
    const secure = options.secure;
    if (!secure) {
      handshake.done();
      return new Conversation(handshake.link, handshake.peerNick);
    }
    const { link, peerNick } = handshake;
    const me = nickOnWire(options.nick);
    const nicks = options.role === "caller"
      ? { caller: me, callee: peerNick }
      : { caller: peerNick, callee: me };
    try {
      let secured: Secured | undefined;
      let first: Promise<PmiFrame | null> | undefined;
      handshake.expect("encrypted handshake");
      if (options.role === "caller" && secure.calledAddress !== undefined) {
        secured = await secureAsCaller(
          link,
          secure.keyring,
          nicks,
          secure.calledAddress,
          secure.vouch,
        );
      } else if (options.role === "callee") {
        const graceMs = secure.graceMs ?? DEFAULT_SECURE_GRACE_MS;
        const outcome = await secureAsCallee(
          link,
          secure.keyring,
          nicks,
          options.clock,
          graceMs,
          secure.vouch,
        );
        if (outcome.kind === "secured") secured = outcome.secured;
        else first = outcome.first;
      }
      if (!secured && secure.require) {
        throw new HandshakeError(
          "the peer talks in clear (an original agent) and --require-encryption is set",
        );
      }
      handshake.done();
      const receipts = secured && secure.receipts && {
        peer: secure.receipts.peer(secured.security.peerAddress),
        clock: options.clock,
        ...(secure.helloTimeoutMs !== undefined && { helloTimeoutMs: secure.helloTimeoutMs }),
      };
      return new Conversation(link, peerNick, secured, first, receipts);
    } catch (error) {
      handshake.done();
      link.close();
      throw asHandshakeError(error, "the encrypted handshake");
    }
  }

  /** Whether the conversation is encrypted (and with whose key), or in clear. */
  get security(): Security {
    return this.#security;
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
        const first = this.#first;
        this.#first = undefined;
        const frame = await (first ?? this.#link.next());
        if (frame === null) {
          return this.#closedLocally ? { reason: "local" } : { reason: "peer-closed" };
        }
        if (this.#secure) {
          const fault = this.#secure.open(frame, handlers);
          if (fault) return { reason: "error", error: fault };
        } else if (frame.kind === "line") handlers.onLine(frame.text);
        else if (frame.kind === "nick") {
          this.#peerNick = frame.text;
          handlers.onNick?.(frame.text);
        } else {
          return {
            reason: "error",
            error: new ChannelError("the peer asked for encryption after the conversation began"),
          };
        }
      }
    } catch (error) {
      if (this.#closedLocally && !this.#link.failure) return { reason: "local" };
      return { reason: "error", error: error instanceof Error ? error : new Error(String(error)) };
    } finally {
      this.#secure?.close();
      this.#link.close();
    }
  }

  /**
   * Queue one line for the peer (several `L` frames past 99 bytes; `L00`
   * when empty). Never waits; `false` if the conversation is over or the peer
   * stopped reading (the conversation then ends with an error). Encrypted,
   * with receipts, the line carries `messageId`, and `onDelivered` names it
   * once the peer has it.
   */
  send(text: string, messageId?: string): boolean {
    if (this.#secure) return this.#secure.send(text, messageId);
    // In clear: cut between words and never inside a character (issue 19): one write.
    const frames = cutLine(text).map(encodeLine);
    return this.#link.write(frames.length === 1 ? frames[0]! : concatBytes(frames));
  }

  /** Whether a line sent now carries its message id (encrypted, with receipts). */
  get carriesIds(): boolean {
    return this.#secure?.carriesIds ?? false;
  }

  /** Wait until what was sent is written, or `timeoutMs` passes. */
  flush(timeoutMs: number): Promise<void> {
    this.#secure?.flush();
    return this.#link.flush(timeoutMs);
  }

  /** End the conversation from our side (idempotent). */
  close(): void {
    if (this.#closedLocally) return;
    this.#closedLocally = true;
    this.#secure?.close();
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
      return why.youLeft();
    case "peer-closed":
      return why.closedByPeer(nick);
    case "error":
      if (end.error instanceof PmiStreamError) return why.badDataFrom(nick, end.error.message);
      if (end.error instanceof ChannelError) return why.channelBroke(end.error.message);
      if (end.error.name === "PeerTimeoutError" || end.error.name === "OverloadError") {
        return `${nick} ${end.error.message}`;
      }
      return why.connectionLost(describeError(end.error));
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
