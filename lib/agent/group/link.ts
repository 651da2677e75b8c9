/**
 * A group link: one TCP connection between two extended agents that are
 * members of the same group, made to the callee's group port, and always
 * encrypted (PROTOCOL.md, "Group links"). The caller sends `N`, the callee
 * answers `N` (as in any PMI conversation); then the caller starts the Noise
 * handshake of the encrypted channel (`H` frames, as a conversation does, with
 * a group prologue), each side's key proves its address and is judged by the
 * keyring (a first contact is pinned, a changed key refuses the link). Then,
 * sealed in `E` frames (`sealed.ts`), the caller sends a `J` record and the
 * callee answers `W` (welcome) or `X` (refused): the callee never sends an
 * extension frame before it received one. After that both sides exchange group
 * records (`wire.ts`). A link that stays silent for the idle timeout is cut;
 * each side sends a keep-alive `K` when it has sent nothing for a while, so a
 * quiet group stays up and a vanished peer is noticed.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../clock.ts";
import { ChannelHandshake, encodePieces, HANDSHAKE_FRAME } from "../../crypto/mod.ts";
import type { Endpoint } from "../../plumi/address.ts";
import type { StreamConn } from "../../transport/tcp.ts";
import { sameAddress } from "../addresses.ts";
import { asHandshakeError, exchangeNicks } from "../chat/conversation.ts";
import type { Keyring } from "../chat/keyring.ts";
import { judge, nickOnWire, type Security, type Vouch } from "../chat/secure.ts";
import { HandshakeError, PeerTimeoutError } from "../errors.ts";
import { groupLinkText, why } from "../terminal/texts.ts";
import { formatRecord, type GroupRecord, type JoinRecord } from "./wire.ts";
import { groupPrologue, sealRecords, SECURE_GROUP_FRAME_TYPES } from "./sealed.ts";
import { readHandshake, SealedRecords } from "./link_channel.ts";
import { formatSeconds, type PmiLink } from "../chat/pmi_link.ts";
import { INVITATION_ANSWER_MS } from "./invitations.ts";

/** Who is at the other end of a group link. */
export interface LinkPeer {
  readonly address: string;
  nick: string;
  /** The peer's group endpoint (where members connect to it). */
  readonly endpoint: Endpoint;
  /** The identity key the handshake proved, and what it means (pinned, verified…). */
  readonly security: Security & { readonly kind: "encrypted" };
}

/** What a group link delivers: a record, or the peer's new nickname (an `N` frame). */
export type LinkEvent = GroupRecord | { readonly kind: "nick"; readonly nick: string };

/** Timing and bounds of group links. */
export interface GroupLinkTiming {
  readonly clock: Clock;
  /** The handshake (nicknames, keys, then `J` and `W`) must be over within this many ms. */
  readonly nickTimeoutMs: number;
  /** A frame must be complete within this many ms of its first byte. */
  readonly frameTimeoutMs: number;
  /** Most bytes waiting to be written to the peer. */
  readonly maxQueuedBytes: number;
  /** A link that received nothing for this many ms is cut; `K` goes out after a third of it. */
  readonly idleMs: number;
}

/** Our keys, and the node's word on a peer's key at first contact. */
export interface GroupLinkKeys {
  readonly keyring: Keyring;
  /** The key our node vouches for an address. Default: none asked. */
  readonly vouch?: Vouch;
}

const encoder = new TextEncoder();

/**
 * An established group link.
 *
 * @example
 * ```ts
 * const link = await dialGroupLink({ conn, nick: "Laura", to, join, keys, ...timing });
 * link.send({ kind: "line", seq: 1, text: "hello" });
 * for (let e = await link.next(); e !== null; e = await link.next()) console.log(e);
 * ```
 */
export class GroupLink {
  readonly peer: LinkPeer;
  /** Whether we opened the link. */
  readonly role: "caller" | "callee";
  readonly #link: PmiLink;
  readonly #records: SealedRecords;
  readonly #timing: GroupLinkTiming;
  #timer: TimerHandle | undefined;

  constructor(
    link: PmiLink,
    records: SealedRecords,
    role: "caller" | "callee",
    peer: LinkPeer,
    timing: GroupLinkTiming,
  ) {
    this.#link = link;
    this.#records = records;
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

  /** The next record; `null` when the link ended. Throws why it failed. */
  next(): Promise<LinkEvent | null> {
    return this.#records.next();
  }

  /** Queue a record; `false` when the link is closed or overrun. */
  send(record: GroupRecord): boolean {
    return this.#records.send(encoder.encode(formatRecord(record)));
  }

  /** Queue a record's text already encoded (UTF-8 of `formatRecord`: one encoding for many links). */
  sendEncoded(text: Uint8Array): boolean {
    return this.#records.send(text);
  }

  /** Wait until what was queued is written, or `timeoutMs` passes. */
  flush(timeoutMs: number): Promise<void> {
    this.#records.seal();
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

/** What a dialled group link is for: who must answer, the `J` to send, our keys. */
export interface GroupLinkRequest {
  /** The address that must answer (its key must prove it). */
  readonly to: string;
  /** The join request to send, made once the callee's key is proved (an invitation binds it). */
  readonly join: (peerKey: Uint8Array) => JoinRecord;
  /** Our keys and pins. */
  readonly keys: GroupLinkKeys;
}

/** Options of {@linkcode dialGroupLink}. */
export interface DialOptions extends GroupLinkTiming, GroupLinkRequest {
  /** A TCP connection to the callee's group port. */
  readonly conn: StreamConn;
  /** Our nickname. */
  readonly nick: string;
  /** The address that must answer (its key must prove it). */
  readonly to: string;
  /** The join request to send, made once the callee's key is proved (an invitation binds it). */
  readonly join: (peerKey: Uint8Array) => JoinRecord;
  /** Our keys and pins. */
  readonly keys: GroupLinkKeys;
}

/**
 * Open a group link as the caller: nicknames, the encrypted handshake (the
 * key that answers must prove `to`), `J`, then `W`. Throws
 * {@linkcode HandshakeError} when the callee refuses (`X`), its key is not
 * the pinned one, it answers anything else, or is too slow.
 */
export async function dialGroupLink(options: DialOptions): Promise<GroupLink> {
  const handshake = await exchangeNicks({
    ...options,
    role: "caller",
    extensionTypes: SECURE_GROUP_FRAME_TYPES,
  });
  const { link } = handshake;
  const { keyring, vouch } = options.keys;
  try {
    handshake.expect(why.awaited.groupAnswer);
    const noise = new ChannelHandshake({
      initiator: true,
      identity: keyring.identity,
      address: keyring.address,
      prologue: groupPrologue(nickOnWire(options.nick), handshake.peerNick),
    });
    link.write(encodePieces(HANDSHAKE_FRAME, await noise.start()));
    const step = await noise.receive(await readHandshake(link));
    if (step.kind === "error") throw new HandshakeError(step.reason);
    if (step.kind !== "established") throw new HandshakeError(why.handshakeOutOfOrder());
    if (!sameAddress(step.peerAddress, options.to)) {
      throw new HandshakeError(groupLinkText.otherKey(step.peerAddress, options.to));
    }
    const security = await judge(keyring, options.to, step.peerKey, vouch);
    const join = options.join(step.peerKey);
    // The last handshake message and the sealed `J` in one write: a second small write would
    // wait for the first one's (delayed) acknowledgement.
    const last = encodePieces(HANDSHAKE_FRAME, step.send!);
    const request = sealRecords(step.channel, [encoder.encode(formatRecord(join))]);
    const both = new Uint8Array(last.length + request.length);
    both.set(last);
    both.set(request, last.length);
    link.write(both);
    const records = new SealedRecords(link, step.channel);
    // An invitation waits for a person to say yes: longer than a handshake.
    let invitationTimer: TimerHandle | undefined;
    if (join.mode === "invite") {
      handshake.done();
      invitationTimer = options.clock.setTimeout(() => {
        link.fail(
          new HandshakeError(why.noInvitationAnswer(INVITATION_ANSWER_MS / 1000)),
        );
      }, INVITATION_ANSWER_MS);
    }
    const answer = await records.next().finally(() => {
      if (invitationTimer !== undefined) options.clock.clearTimeout(invitationTimer);
    });
    if (answer === null) throw new HandshakeError(why.peerClosedConnection());
    if (answer.kind === "refuse") {
      throw new HandshakeError(why.groupRefused(answer.reason));
    }
    if (answer.kind !== "welcome") {
      throw new HandshakeError(why.answeredInstead(answer.kind));
    }
    if (!sameAddress(answer.address, options.to)) {
      throw new HandshakeError(groupLinkText.otherKey(answer.address, options.to));
    }
    handshake.done();
    return new GroupLink(link, records, "caller", {
      address: options.to,
      nick: handshake.peerNick,
      endpoint: answer.endpoint,
      security,
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
  /** Our keys and pins. */
  readonly keys: GroupLinkKeys;
  /**
   * Whether to accept this join request from `peerNick`, whose identity key
   * proved `join.address`: `undefined` to accept, or why not. A promise (the
   * user is asked about an invitation) ends the handshake's deadline: the
   * decision keeps its own.
   */
  readonly decide: (
    join: JoinRecord,
    peerNick: string,
    peerKey: Uint8Array,
  ) => string | undefined | Promise<string | undefined>;
}

/**
 * Answer a group link as the callee: nicknames, the encrypted handshake, then
 * a `J` record (from the address the caller's key proved), which `decide`
 * accepts (we answer `W`) or refuses (we answer `X` and close). Throws
 * {@linkcode HandshakeError} on refusal, a changed key, bad data or slowness.
 */
export async function answerGroupLink(
  options: AnswerOptions,
): Promise<{ link: GroupLink; join: JoinRecord }> {
  const handshake = await exchangeNicks({
    ...options,
    role: "callee",
    extensionTypes: SECURE_GROUP_FRAME_TYPES,
  });
  const { link } = handshake;
  const { keyring, vouch } = options.keys;
  try {
    handshake.expect(why.awaited.groupRequest);
    const noise = new ChannelHandshake({
      initiator: false,
      identity: keyring.identity,
      address: keyring.address,
      prologue: groupPrologue(handshake.peerNick, nickOnWire(options.nick)),
    });
    const answer = await noise.receive(await readHandshake(link));
    if (answer.kind !== "send") {
      throw new HandshakeError(answer.kind === "error" ? answer.reason : why.handshakeOutOfOrder());
    }
    link.write(encodePieces(HANDSHAKE_FRAME, answer.send));
    const done = await noise.receive(await readHandshake(link));
    if (done.kind === "error") throw new HandshakeError(done.reason);
    if (done.kind !== "established") throw new HandshakeError(why.handshakeOutOfOrder());
    const security = await judge(keyring, done.peerAddress, done.peerKey, vouch);
    const records = new SealedRecords(link, done.channel);
    const request = await records.next();
    if (request === null) throw new HandshakeError(why.peerClosedConnection());
    if (request.kind !== "join") {
      throw new HandshakeError(why.sentInstead(request.kind));
    }
    const decision = sameAddress(request.address, done.peerAddress)
      ? options.decide(request, handshake.peerNick, done.peerKey)
      : groupLinkText.otherKey(done.peerAddress, request.address);
    if (decision instanceof Promise) handshake.done();
    const refusal = await decision;
    if (link.closed) throw new HandshakeError(why.inviterGaveUp());
    if (refusal !== undefined) {
      records.send(encoder.encode(formatRecord({ kind: "refuse", reason: refusal })));
      await link.flush(1_000);
      throw new HandshakeError(why.refusedGroupLink(refusal));
    }
    records.send(encoder.encode(formatRecord({ kind: "welcome", ...options.me })));
    handshake.done();
    const peer = {
      address: request.address,
      nick: handshake.peerNick,
      endpoint: request.endpoint,
      security,
    };
    return { link: new GroupLink(link, records, "callee", peer, options), join: request };
  } catch (error) {
    handshake.done();
    link.close();
    throw asHandshakeError(error, why.awaited.aGroupRequest);
  }
}
