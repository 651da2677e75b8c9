/**
 * Sealed messages for offline delivery (docs/PROTOCOL.md, "Offline messages"):
 * one line (or one delivery receipt) encrypted to the recipient's identity
 * key, so that the node that keeps it sees only ciphertext, and
 * authenticated by the sender's identity key, so that the recipient knows who
 * sent it. The construction is Noise's one-way pattern `X` cut to one
 * message, from audited parts only: X25519 (WebCrypto), HKDF-SHA-256
 * (`@noble/hashes`), ChaCha20-Poly1305 (`@noble/ciphers`).
 *
 * ```
 * sealed = 0x01 | e.pub (32) | seal(k1, S.pub) (48) | seal(k2, payload) (n + 16)
 * k1 = HKDF(ikm = DH(e, R), salt = e.pub | R.pub, info = "LUMI sealed v1 es", 32)
 * k2 = HKDF(ikm = DH(e, R) | DH(S, R), salt = e.pub | R.pub, info = "LUMI sealed v1 ss", 32)
 * payload = kind (1: 0 text, 1 receipt) | id (8) | sent (8, ms, big-endian)
 *           | address length (1) | sender address | body (UTF-8 text, or the receipted ids, 8 each)
 * ```
 *
 * Each key is used once (the ephemeral key `e` is fresh), so the nonce is
 * zero; the associated data of both seals is the first 33 bytes, and of the
 * second also the recipient's address. Only the holder of `S`'s secret can
 * make `k2`: the sender's address inside is therefore the holder's claim,
 * which the recipient checks against the key vouched for at that address.
 *
 * @module
 */

import { chacha20poly1305 } from "#ciphers/chacha.js";
import { hkdf } from "#hashes/hkdf.js";
import { sha256 } from "#hashes/sha2.js";
import { diffieHellman, type KeyPair } from "./noise.ts";

/** The first byte of a sealed message. */
export const SEALED_VERSION = 1;

/** Bytes a sealed message adds to its payload: version, ephemeral key, sealed static key, tag. */
export const SEALED_OVERHEAD = 1 + 32 + 48 + 16;

/** Longest text of one sealed line, in UTF-8 bytes (docs/PROTOCOL.md: 4 KB of ciphertext). */
export const MAX_SEALED_TEXT = 3_800;

/** Most message ids one receipt acknowledges. */
export const MAX_RECEIPT_IDS = 400;

/** What a sealed message holds. */
export type SealedPayload =
  | {
    readonly kind: "text";
    /** The message id: 16 lowercase hex digits. */
    readonly id: string;
    /** When the sender sent it (ms since the epoch). */
    readonly sent: number;
    readonly from: string;
    readonly text: string;
  }
  | {
    readonly kind: "receipt";
    /** This receipt's own id. */
    readonly id: string;
    readonly sent: number;
    readonly from: string;
    /** The ids of the messages delivered (1 to {@linkcode MAX_RECEIPT_IDS}). */
    readonly of: readonly string[];
  };

/** An opened message: its payload and the sender's public identity key (to be checked). */
export interface Opened {
  readonly payload: SealedPayload;
  readonly senderKey: Uint8Array;
}

/** A sealed message that cannot be opened (wrong recipient, tampered, malformed), and why. */
export class SealedError extends Error {
  override name = "SealedError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });
const ZERO_NONCE = new Uint8Array(12);
const INFO_ES = encoder.encode("LUMI sealed v1 es");
const INFO_SS = encoder.encode("LUMI sealed v1 ss");
const ID = /^[0-9a-f]{16}$/;

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** X25519 ({@linkcode diffieHellman}); a key that is not one (or a low-order point) is a {@linkcode SealedError}. */
async function dh(pair: KeyPair, publicKey: Uint8Array): Promise<Uint8Array> {
  try {
    return await diffieHellman(pair, publicKey);
  } catch (cause) {
    throw new SealedError("a key of the sealed message is not a valid X25519 key", { cause });
  }
}

function idBytes(id: string): Uint8Array {
  if (!ID.test(id)) throw new TypeError(`a message id is 16 lowercase hex digits, not "${id}"`);
  return Uint8Array.from(id.match(/../g)!, (h) => parseInt(h, 16));
}

function idText(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function encodePayload(payload: SealedPayload): Uint8Array {
  const from = encoder.encode(payload.from);
  if (from.length > 255) throw new RangeError("the sender's address is longer than 255 bytes");
  const head = new Uint8Array(18);
  head[0] = payload.kind === "text" ? 0 : 1;
  head.set(idBytes(payload.id), 1);
  new DataView(head.buffer).setBigUint64(9, BigInt(Math.max(0, Math.floor(payload.sent))));
  head[17] = from.length;
  if (
    payload.kind === "receipt" && !(payload.of.length >= 1 && payload.of.length <= MAX_RECEIPT_IDS)
  ) {
    throw new RangeError(`a receipt holds 1 to ${MAX_RECEIPT_IDS} ids, not ${payload.of.length}`);
  }
  const body = payload.kind === "text"
    ? encoder.encode(payload.text)
    : concat(...payload.of.map(idBytes));
  if (body.length > MAX_SEALED_TEXT) {
    throw new RangeError(`the line is ${body.length} bytes, at most ${MAX_SEALED_TEXT}`);
  }
  return concat(head, from, body);
}

function decodePayload(bytes: Uint8Array): SealedPayload {
  if (bytes.length < 18) throw new SealedError("the sealed payload is too short");
  const kind = bytes[0];
  const id = idText(bytes.subarray(1, 9));
  const sent = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(9));
  const length = bytes[17]!;
  if (bytes.length < 18 + length) throw new SealedError("the sealed payload is cut short");
  let from: string;
  let body: Uint8Array;
  try {
    from = decoder.decode(bytes.subarray(18, 18 + length));
    body = bytes.subarray(18 + length);
    if (kind === 0) return { kind: "text", id, sent, from, text: decoder.decode(body) };
  } catch (cause) {
    throw new SealedError("the sealed payload is not UTF-8", { cause });
  }
  if (kind === 1 && body.length >= 8 && body.length % 8 === 0) {
    const of: string[] = [];
    for (let at = 0; at < body.length; at += 8) of.push(idText(body.subarray(at, at + 8)));
    return { kind: "receipt", id, sent, from, of };
  }
  throw new SealedError(`the sealed payload has an unknown kind ${kind}`);
}

/** The two keys of a message, from its DH results. */
function keys(es: Uint8Array, ss: Uint8Array | undefined, salt: Uint8Array): Uint8Array {
  return ss === undefined
    ? hkdf(sha256, es, salt, INFO_ES, 32)
    : hkdf(sha256, concat(es, ss), salt, INFO_SS, 32);
}

/**
 * Seal `payload` to `recipientKey` (at `recipient`, an address), from the
 * sender's identity `sender`.
 *
 * @example
 * ```ts
 * const bytes = await seal(me, joanKey, "joan@bb.com",
 *   { kind: "text", id: "00112233445566ff", sent: Date.now(), from: "laura@bb.com", text: "hi" });
 * ```
 */
export async function seal(
  sender: KeyPair,
  recipientKey: Uint8Array,
  recipient: string,
  payload: SealedPayload,
): Promise<Uint8Array<ArrayBuffer>> {
  const plain = encodePayload(payload);
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, false, [
    "deriveBits",
  ]) as CryptoKeyPair;
  const ephemeral: KeyPair = {
    publicKey: new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey)),
    privateKey: pair.privateKey,
  };
  const head = concat(Uint8Array.of(SEALED_VERSION), ephemeral.publicKey);
  const salt = concat(ephemeral.publicKey, recipientKey);
  const es = await dh(ephemeral, recipientKey);
  const ss = await dh(sender, recipientKey);
  const sealedKey = chacha20poly1305(keys(es, undefined, salt), ZERO_NONCE, head)
    .encrypt(new Uint8Array(sender.publicKey));
  const body = chacha20poly1305(
    keys(es, ss, salt),
    ZERO_NONCE,
    concat(head, encoder.encode(recipient)),
  ).encrypt(plain);
  return concat(head, sealedKey, body);
}

/**
 * Open a sealed message with the recipient's identity `me` (at `address`).
 * Throws {@linkcode SealedError} when it is not for this key or was changed.
 * The sender's key is returned for the caller to check against the one its
 * node vouches for at `payload.from`.
 */
export async function open(me: KeyPair, address: string, sealed: Uint8Array): Promise<Opened> {
  if (sealed.length < SEALED_OVERHEAD + 18 || sealed[0] !== SEALED_VERSION) {
    throw new SealedError("not a sealed message of a version this agent knows");
  }
  const head = sealed.subarray(0, 33);
  const ephemeral = sealed.subarray(1, 33);
  const salt = concat(ephemeral, me.publicKey);
  const es = await dh(me, ephemeral);
  let senderKey: Uint8Array;
  let plain: Uint8Array;
  try {
    senderKey = chacha20poly1305(keys(es, undefined, salt), ZERO_NONCE, head)
      .decrypt(sealed.subarray(33, 81));
  } catch (cause) {
    throw new SealedError("the sealed message is not for this key, or was changed", { cause });
  }
  const ss = await dh(me, senderKey);
  try {
    plain = chacha20poly1305(keys(es, ss, salt), ZERO_NONCE, concat(head, encoder.encode(address)))
      .decrypt(sealed.subarray(81));
  } catch (cause) {
    throw new SealedError("the sealed message was changed, or not sealed to this address", {
      cause,
    });
  }
  return { payload: decodePayload(plain), senderKey };
}

/** A fresh message id: 8 random bytes as 16 lowercase hex digits. */
export function newMessageId(): string {
  return idText(crypto.getRandomValues(new Uint8Array(8)));
}
