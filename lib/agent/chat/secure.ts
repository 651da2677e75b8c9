/**
 * Turning a conversation whose nicknames were exchanged into an encrypted one
 * (PROTOCOL.md, "Encrypted conversations"): the caller, having seen `e=1` in
 * the callee's `RL0`, sends the first `H` frame; the callee answers `H` only
 * after receiving one. The handshake is `Noise_XX_25519_ChaChaPoly_SHA256`
 * (`lib/crypto/`); each side's key then proves its address, judged by the
 * {@linkcode Keyring}: a first contact is pinned, a changed key refuses the
 * conversation. A callee whose caller sends a line (or nothing, for a grace
 * period) instead talks in clear: an original agent.
 *
 * @module
 */

import type { Clock } from "../../clock.ts";
import {
  ChannelHandshake,
  conversationPrologue,
  fingerprint,
  HANDSHAKE_FRAME,
  MAX_HANDSHAKE_BYTES,
  PieceJoiner,
  sameKey,
  type SecureChannel,
} from "../../crypto/mod.ts";
import { encodePieces } from "../../crypto/wire.ts";
import { encodeNick, type PmiFrame } from "../../pmi/frame.ts";
import { sameAddress } from "../addresses.ts";
import { HandshakeError } from "../errors.ts";
import type { Keyring } from "./keyring.ts";
import type { PmiLink } from "./pmi_link.ts";
import { why } from "../terminal/texts.ts";

/** Frame types an agent that speaks the encrypted channel accepts on conversations. */
export const SECURE_FRAME_TYPES = "HE";

/** How long a callee waits after the nicknames for a caller's first `H` frame, ms. */
export const DEFAULT_SECURE_GRACE_MS = 400;

/** How a conversation is protected, as the user is shown. */
export type Security =
  | { readonly kind: "clear" }
  | {
    readonly kind: "encrypted";
    /** The address the peer's key proved. */
    readonly peerAddress: string;
    readonly peerKey: Uint8Array;
    /** The user verified this key (`/verify`). */
    readonly verified: boolean;
    /** This key was pinned just now: the first contact with this address. */
    readonly firstContact: boolean;
    /** The peer's node vouched for this key (checked at first contact). */
    readonly vouched: boolean;
  };

/** An encrypted conversation's channel and what protects it. */
export interface Secured {
  readonly channel: SecureChannel;
  readonly security: Security & { readonly kind: "encrypted" };
}

/** An encrypted conversation received something it must not accept: it ends. */
export class ChannelError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ChannelError";
  }
}

/** A changed key: the conversation is refused until `/trust`. */
export class KeyChangedError extends HandshakeError {
  /** The address whose key changed. */
  readonly address: string;
  constructor(address: string, pinned: Uint8Array, now: Uint8Array) {
    super(
      `WARNING: the key of ${address} has CHANGED (pinned ${fingerprint(pinned)}, now ${
        fingerprint(now)
      }). Someone may be between you. The conversation is refused; if ${address} really has a ` +
        `new key (ask them another way), type /trust ${address} and call again.`,
    );
    this.name = "KeyChangedError";
    this.address = address;
  }
}

/** At first contact, a key other than the one the peer's node vouches for: refused. */
export class KeyDisownedError extends HandshakeError {
  constructor(address: string, vouched: Uint8Array, now: Uint8Array) {
    super(
      `WARNING: the key that answered as ${address} (${
        fingerprint(now)
      }) is not the one its node ` +
        `vouches for (${
          fingerprint(vouched)
        }). Someone may be between you. The conversation is refused.`,
    );
    this.name = "KeyDisownedError";
  }
}

const decoder = new TextDecoder();

/** The nickname as it went on the wire (cut to 99 bytes), for the prologue. */
export function nickOnWire(nick: string): string {
  return decoder.decode(encodeNick(nick).subarray(3));
}

async function readHandshake(
  link: PmiLink,
  first?: PmiFrame,
): Promise<Uint8Array> {
  const joiner = new PieceJoiner(MAX_HANDSHAKE_BYTES);
  let frame: PmiFrame | null | undefined = first;
  for (;;) {
    frame ??= await link.next();
    if (frame === null) throw new HandshakeError(why.closedInHandshake());
    if (frame.kind !== "extension" || frame.type !== HANDSHAKE_FRAME) {
      throw new HandshakeError(why.notAHandshake());
    }
    const step = joiner.push(frame.info);
    if (step.kind === "error") throw new HandshakeError(step.reason);
    if (step.kind === "message") return step.message;
    frame = undefined;
  }
}

/** How to ask the node which key it vouches for an address. */
export type Vouch = (address: string) => Promise<Uint8Array | undefined>;

/**
 * What the key `address` proved means (conversations and group links): pinned
 * at first contact, known, or refused (changed, or not the one its node vouches for).
 */
export async function judge(
  keyring: Keyring,
  address: string,
  key: Uint8Array,
  vouch: Vouch | undefined,
): Promise<Secured["security"]> {
  let vouched = false;
  if (vouch && keyring.isNew(address)) {
    // First contact: the node's word, when it has one, must match the key that answered.
    const word = await vouch(address);
    if (word !== undefined && !sameKey(word, key)) throw new KeyDisownedError(address, word, key);
    vouched = word !== undefined;
  }
  const verdict = await keyring.judge(address, key);
  if (verdict.kind === "changed") throw new KeyChangedError(address, verdict.pinned, key);
  return {
    kind: "encrypted",
    peerAddress: address,
    peerKey: key,
    verified: verdict.kind === "known" && verdict.verified,
    firstContact: verdict.kind === "first-contact",
    vouched,
  };
}

/**
 * The caller's side: send `H`, read the answer, send the last `H`; the key
 * that answered must prove `calledAddress`. Throws {@linkcode HandshakeError}
 * (a {@linkcode KeyChangedError} for a changed key).
 */
export async function secureAsCaller(
  link: PmiLink,
  keyring: Keyring,
  nicks: { readonly caller: string; readonly callee: string },
  calledAddress: string,
  vouch?: Vouch,
): Promise<Secured> {
  const handshake = new ChannelHandshake({
    initiator: true,
    identity: keyring.identity,
    address: keyring.address,
    prologue: conversationPrologue(nicks.caller, nicks.callee),
  });
  link.write(encodePieces(HANDSHAKE_FRAME, await handshake.start()));
  const step = await handshake.receive(await readHandshake(link));
  if (step.kind === "error") throw new HandshakeError(step.reason);
  if (step.kind !== "established") throw new HandshakeError(why.handshakeOutOfOrder());
  if (!sameAddress(step.peerAddress, calledAddress)) {
    throw new HandshakeError(
      `the key that answered claims to be ${step.peerAddress}, not ${calledAddress}`,
    );
  }
  const security = await judge(keyring, calledAddress, step.peerKey, vouch);
  link.write(encodePieces(HANDSHAKE_FRAME, step.send!));
  return { channel: step.channel, security };
}

/** What a callee found: an encrypted channel, or a caller in clear and its first frame to come. */
export type CalleeOutcome =
  | { readonly kind: "secured"; readonly secured: Secured }
  | { readonly kind: "clear"; readonly first: Promise<PmiFrame | null> };

/**
 * The callee's side: wait up to `graceMs` for the caller's first frame. An
 * `H` frame starts the handshake (the caller's key must then prove the address
 * it claims); anything else, or nothing in time, is a caller in clear.
 */
export async function secureAsCallee(
  link: PmiLink,
  keyring: Keyring,
  nicks: { readonly caller: string; readonly callee: string },
  clock: Clock,
  graceMs: number,
  vouch?: Vouch,
): Promise<CalleeOutcome> {
  const first = link.next();
  // Swallow here: a failure is seen by whoever awaits `first` next.
  first.catch(() => {});
  let timer: ReturnType<Clock["setTimeout"]> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = clock.setTimeout(() => resolve("late"), graceMs);
  });
  const raced = await Promise.race([first.then((f) => ({ f }), () => ({ f: undefined })), late]);
  clock.clearTimeout(timer!);
  if (raced === "late" || raced.f === undefined || raced.f === null) {
    return { kind: "clear", first };
  }
  const frame = raced.f;
  if (frame.kind !== "extension" || frame.type !== HANDSHAKE_FRAME) {
    return { kind: "clear", first };
  }
  const handshake = new ChannelHandshake({
    initiator: false,
    identity: keyring.identity,
    address: keyring.address,
    prologue: conversationPrologue(nicks.caller, nicks.callee),
  });
  const answer = await handshake.receive(await readHandshake(link, frame));
  if (answer.kind !== "send") {
    throw new HandshakeError(answer.kind === "error" ? answer.reason : "handshake out of order");
  }
  link.write(encodePieces(HANDSHAKE_FRAME, answer.send));
  const done = await handshake.receive(await readHandshake(link));
  if (done.kind === "error") throw new HandshakeError(done.reason);
  if (done.kind !== "established") throw new HandshakeError(why.handshakeOutOfOrder());
  const security = await judge(keyring, done.peerAddress, done.peerKey, vouch);
  return { kind: "secured", secured: { channel: done.channel, security } };
}
