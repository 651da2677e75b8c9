/**
 * A group link: one TCP connection between two extended agents that are
 * members of the same group, made to the callee's group port. The caller
 * sends `N`, the callee answers `N` (as in any PMI conversation), then the
 * caller sends a `J` record and the callee answers `W` (welcome) or `X`
 * (refused): the callee never sends an extension frame before it received
 * one. After that both sides exchange group records (`wire.ts`). A
 * link that stays silent for the idle timeout is cut; each side sends a
 * keep-alive `K` when it has sent nothing for a while, so a quiet group
 * stays up and a vanished peer is noticed.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { asHandshakeError, exchangeNicks } from "../chat/conversation.ts";
import { GroupProtocolError, HandshakeError, OverloadError, PeerTimeoutError } from "../errors.ts";
import { why } from "../terminal/texts.ts";
import {
  encodeRecord,
  GROUP_FRAME_TYPE,
  type GroupRecord,
  type JoinRecord,
  RecordAssembler,
} from "./wire.ts";
import { formatSeconds, type PmiLink } from "../chat/pmi_link.ts";
import { INVITATION_ANSWER_MS } from "./invitations.ts";

/** Who is at the other end of a group link. */
export interface LinkPeer {
  readonly address: string;
  nick: string;
  /** The peer's group endpoint (where members connect to it). */
  readonly endpoint: Endpoint;
}

/** What a group link delivers: a record, or the peer's new nickname (an `N` frame). */
export type LinkEvent = GroupRecord | { readonly kind: "nick"; readonly nick: string };

/** Timing and bounds of group links. */
export interface GroupLinkTiming {
  readonly clock: Clock;
  /** The handshake (nicknames, then `J` and `W`) must be over within this many ms. */
  readonly nickTimeoutMs: number;
  /** A frame must be complete within this many ms of its first byte. */
  readonly frameTimeoutMs: number;
  /** Most bytes waiting to be written to the peer. */
  readonly maxQueuedBytes: number;
  /** A link that received nothing for this many ms is cut; `K` goes out after a third of it. */
  readonly idleMs: number;
}

/** Read frames until one whole record arrives; `null` at the end of the stream. */
async function readEvent(link: PmiLink, assembler: RecordAssembler): Promise<LinkEvent | null> {
  for (;;) {
    const frame = await link.next();
    if (frame === null) return null;
    if (frame.kind === "nick") return { kind: "nick", nick: frame.text };
    if (frame.kind === "line") {
      const error = new GroupProtocolError(why.lineOnGroupLink());
      link.fail(error);
      throw error;
    }
    const result = assembler.push(frame.info);
    if (result.kind === "more") continue;
    if (result.kind === "error") {
      const error = result.overflow
        ? new OverloadError(result.message)
        : new GroupProtocolError(result.message);
      link.fail(error);
      throw error;
    }
    if (!result.result.ok) {
      const error = new GroupProtocolError(result.result.message);
      link.fail(error);
      throw error;
    }
    return result.result.record;
  }
}

/**
 * An established group link.
 *
 * @example
 * ```ts
 * const link = await dialGroupLink({ conn, nick: "Laura", join, ...timing });
 * link.send({ kind: "line", seq: 1, text: "hello" });
 * for (let e = await link.next(); e !== null; e = await link.next()) console.log(e);
 * ```
 */
export class GroupLink {
  readonly peer: LinkPeer;
  /** Whether we opened the link. */
  readonly role: "caller" | "callee";
  readonly #link: PmiLink;
  readonly #assembler: RecordAssembler;
  readonly #timing: GroupLinkTiming;
  #timer: TimerHandle | undefined;

  constructor(
    link: PmiLink,
    assembler: RecordAssembler,
    role: "caller" | "callee",
    peer: LinkPeer,
    timing: GroupLinkTiming,
  ) {
    this.#link = link;
    this.#assembler = assembler;
    this.role = role;
    this.peer = peer;
    this.#timing = timing;
    this.#schedule();
  }

  #schedule(): void {
    const every = Math.max(10, Math.floor(this.#timing.idleMs / 6));
    this.#timer = this.#timing.clock.setTimeout(() => this.#tick(), every);
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#link.closed) return;
    const now = this.#timing.clock.now();
    const { idleMs } = this.#timing;
    if (now - this.#link.lastReceived >= idleMs) {
      this.#link.fail(new PeerTimeoutError(why.silentFor(formatSeconds(idleMs))));
      return;
    }
    if (now - this.#link.lastSent >= idleMs / 3) this.send({ kind: "ping" });
    this.#schedule();
  }

  /** The next record or nickname change; `null` when the link ended. Throws why it failed. */
  next(): Promise<LinkEvent | null> {
    return readEvent(this.#link, this.#assembler);
  }

  /** Queue a record; `false` when the link is closed or overrun. */
  send(record: GroupRecord): boolean {
    return this.#link.write(encodeRecord(record));
  }

  /** Queue a record already encoded with `encodeRecord` (one encoding for many links). */
  sendEncoded(bytes: Uint8Array): boolean {
    return this.#link.write(bytes);
  }

  /** Wait until what was queued is written, or `timeoutMs` passes. */
  flush(timeoutMs: number): Promise<void> {
    return this.#link.flush(timeoutMs);
  }

  /** Why the link failed, if it did. */
  get failure(): Error | undefined {
    return this.#link.failure;
  }

  /** Close from our side (idempotent). */
  close(): void {
    if (this.#timer !== undefined) this.#timing.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#link.close();
  }
}

/** Options of {@linkcode dialGroupLink}. */
export interface DialOptions extends GroupLinkTiming {
  /** A TCP connection to the callee's group port. */
  readonly conn: StreamConn;
  /** Our nickname. */
  readonly nick: string;
  /** The join request to send. */
  readonly join: JoinRecord;
}

/**
 * Open a group link as the caller: nicknames, `J`, then `W`. Throws
 * {@linkcode HandshakeError} when the callee refuses (`X`), answers anything
 * else, or is too slow.
 */
export async function dialGroupLink(options: DialOptions): Promise<GroupLink> {
  const handshake = await exchangeNicks({
    ...options,
    role: "caller",
    extensionTypes: GROUP_FRAME_TYPE,
  });
  const { link } = handshake;
  const assembler = new RecordAssembler();
  try {
    handshake.expect(why.awaited.groupAnswer);
    link.write(encodeRecord(options.join));
    // An invitation waits for a person to say yes: longer than a handshake.
    let invitationTimer: TimerHandle | undefined;
    if (options.join.mode === "invite") {
      handshake.done();
      invitationTimer = options.clock.setTimeout(() => {
        link.fail(
          new HandshakeError(why.noInvitationAnswer(INVITATION_ANSWER_MS / 1000)),
        );
      }, INVITATION_ANSWER_MS);
    }
    const answer = await readEvent(link, assembler).finally(() => {
      if (invitationTimer !== undefined) options.clock.clearTimeout(invitationTimer);
    });
    if (answer === null) throw new HandshakeError(why.peerClosedConnection());
    if (answer.kind === "refuse") {
      throw new HandshakeError(why.groupRefused(answer.reason));
    }
    if (answer.kind !== "welcome") {
      throw new HandshakeError(why.answeredInstead(answer.kind));
    }
    handshake.done();
    return new GroupLink(link, assembler, "caller", {
      address: answer.address,
      nick: handshake.peerNick,
      endpoint: answer.endpoint,
    }, options);
  } catch (error) {
    handshake.done();
    link.close();
    throw asHandshakeError(error, why.awaited.aGroupAnswer);
  }
}

/** Options of {@linkcode answerGroupLink}. */
export interface AnswerOptions extends GroupLinkTiming {
  /** A connection accepted on our group port. */
  readonly conn: StreamConn;
  /** Our nickname. */
  readonly nick: string;
  /** Our address and group endpoint, sent in `W`. */
  readonly me: { readonly address: string; readonly endpoint: Endpoint };
  /**
   * Whether to accept this join request from `peerNick`: `undefined` to accept, or why not. A
   * promise (the user is asked about an invitation) ends the handshake's deadline: the decision
   * keeps its own.
   */
  readonly decide: (
    join: JoinRecord,
    peerNick: string,
  ) => string | undefined | Promise<string | undefined>;
}

/**
 * Answer a group link as the callee: nicknames, then a `J` record, which
 * `decide` accepts (we answer `W`) or refuses (we answer `X` and close).
 * Throws {@linkcode HandshakeError} on refusal, bad data or slowness.
 */
export async function answerGroupLink(
  options: AnswerOptions,
): Promise<{ link: GroupLink; join: JoinRecord }> {
  const handshake = await exchangeNicks({
    ...options,
    role: "callee",
    extensionTypes: GROUP_FRAME_TYPE,
  });
  const { link } = handshake;
  const assembler = new RecordAssembler();
  try {
    handshake.expect(why.awaited.groupRequest);
    const request = await readEvent(link, assembler);
    if (request === null) throw new HandshakeError(why.peerClosedConnection());
    if (request.kind !== "join") {
      throw new HandshakeError(why.sentInstead(request.kind));
    }
    const decision = options.decide(request, handshake.peerNick);
    if (decision instanceof Promise) handshake.done();
    const refusal = await decision;
    if (link.closed) throw new HandshakeError(why.inviterGaveUp());
    if (refusal !== undefined) {
      link.write(encodeRecord({ kind: "refuse", reason: refusal }));
      await link.flush(1_000);
      throw new HandshakeError(why.refusedGroupLink(refusal));
    }
    link.write(encodeRecord({ kind: "welcome", ...options.me }));
    handshake.done();
    const peer = { address: request.address, nick: handshake.peerNick, endpoint: request.endpoint };
    return { link: new GroupLink(link, assembler, "callee", peer, options), join: request };
  } catch (error) {
    handshake.done();
    link.close();
    throw asHandshakeError(error, why.awaited.aGroupRequest);
  }
}
