/**
 * The session of an extended agent on the wire: no secret travels. At
 * registration both sides swap X25519 public keys (`k=`) and derive a
 * session key with HKDF-SHA-256; every later request of the session
 * (`PK`, `PB`, `PS`, `PO`, `PI`, `PY` and an extended `PD`) ends with
 * `;q=<counter>;m=<mac>`: a counter that only grows, and a truncated
 * HMAC-SHA-256 over the whole datagram before `;m=` (docs/PROTOCOL.md,
 * "Registration, authentication and sessions"). The node keeps the last
 * counters it accepted ({@linkcode CounterWindow}) and refuses a copy, an
 * old counter or a changed byte.
 *
 * Pure: the noble libraries (audited) do the X25519, HKDF and HMAC.
 *
 * @module
 */

import { x25519 } from "#curves/ed25519.js";
import { hkdf } from "#hashes/hkdf.js";
import { hmac } from "#hashes/hmac.js";
import { sha256 } from "#hashes/sha2.js";
import { fromBase64Url, toBase64Url } from "../../auth.ts";
import { formatPlumi } from "../codec.ts";
import type { DeregisterRequest, ExtensionRequest } from "../messages.ts";
import { base64Field, countField, type Field } from "./fields.ts";

/** Characters of a public key in `k=` (32 bytes, URL-safe base64 without padding). */
export const PUBLIC_KEY_CHARS = 43;
/** Bytes of HMAC-SHA-256 kept in `m=` (96 bits, as HMAC-SHA-256-96 elsewhere). */
export const MAC_BYTES = 12;
/** Characters of `m=`. */
export const MAC_CHARS = 16;
/** Largest counter (`q=`): the agent registers again long before. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;
/** How far below the highest counter seen a request may still come (reordering), once each. */
export const COUNTER_WINDOW = 32;

/** `k=<X25519 public key>`: the agent's in the first `PR`, the node's in `RR0`. */
export const SESSION_KEY: Field<string> = base64Field("k", PUBLIC_KEY_CHARS);
/** `q=<counter>`: 1 for a session's first request, then one more for each datagram. */
export const COUNTER: Field<number> = countField("q", 1, MAX_COUNTER);
/** `m=<mac>`: the last parameter of an authenticated packet. */
export const MAC: Field<string> = base64Field("m", MAC_CHARS);

/** Most characters a seal adds to a request (`;q=<counter>;m=<mac>`, the largest counter). */
export const MAX_SEAL_CHARS = ";q=".length + String(MAX_COUNTER).length + ";m=".length + MAC_CHARS;

/** The requests that belong to a session: each is sent sealed. */
export type SealedRequest = ExtensionRequest | DeregisterRequest;

/** The letters of the extension requests an agent seals (`PU` and node-to-node `PP` are not). */
export const SEALED_LETTERS: ReadonlySet<string> = new Set([
  "K",
  "B",
  "S",
  "O",
  "I",
  "Y",
  "M",
  "F",
]);

const encoder = new TextEncoder();
const SALT_LABEL = "LUMI-PLUMI-SESSION/1";
const INFO = encoder.encode("request mac");

/** An ephemeral X25519 key pair for one registration. */
export interface SessionKeyPair {
  readonly secretKey: Uint8Array;
  /** The public key, as `k=` carries it. */
  readonly publicKey: string;
}

/** A fresh ephemeral key pair (one per registration; never stored). */
export function newSessionKeyPair(): SessionKeyPair {
  const secretKey = x25519.utils.randomSecretKey();
  return { secretKey, publicKey: toBase64Url(new Uint8Array(x25519.getPublicKey(secretKey))) };
}

/** What both sides feed the key derivation. */
export interface SessionKeyInput {
  /** Our secret key. */
  readonly secretKey: Uint8Array;
  /** The other side's public key (`k=`). */
  readonly peerKey: string;
  /** The user's address, as the `PR` carries it. */
  readonly address: string;
  /** The agent's public key. */
  readonly agentKey: string;
  /** The node's public key. */
  readonly nodeKey: string;
  /** For an account with a password: its `storedKey`, which only the agent and the node know. */
  readonly bind?: Uint8Array;
}

/**
 * The session key (32 bytes): HKDF-SHA-256 of the X25519 shared secret
 * (followed by `storedKey` for a password account), salted with the hash
 * of the address and both public keys. `undefined` when `peerKey` is not a
 * usable key (not 32 bytes, or of small order: a zero shared secret).
 */
export function deriveSessionKey(input: SessionKeyInput): Uint8Array | undefined {
  const peer = fromBase64Url(input.peerKey);
  if (!peer || peer.length !== 32) return undefined;
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(input.secretKey, peer);
  } catch {
    return undefined; // a small-order point: noble refuses the all-zero result
  }
  if (shared.every((b) => b === 0)) return undefined;
  const bind = input.bind ?? new Uint8Array(0);
  const ikm = new Uint8Array(shared.length + bind.length);
  ikm.set(shared);
  ikm.set(bind, shared.length);
  const salt = sha256(
    encoder.encode(`${SALT_LABEL}\n${input.address}\n${input.agentKey}\n${input.nodeKey}`),
  );
  return hkdf(sha256, ikm, salt, INFO, 32);
}

/** The MAC of `text` under `key`, as `m=` carries it. */
export function macOf(key: Uint8Array, text: string): string {
  return toBase64Url(
    new Uint8Array(hmac(sha256, key, encoder.encode(text)).subarray(0, MAC_BYTES)),
  );
}

/** Is `mac` the MAC of `text` under `key`? (Compared in constant time.) */
export function macMatches(key: Uint8Array, text: string, mac: string): boolean {
  const want = macOf(key, text);
  if (want.length !== mac.length) return false;
  let diff = 0;
  for (let i = 0; i < want.length; i++) diff |= want.charCodeAt(i) ^ mac.charCodeAt(i);
  return diff === 0;
}

/**
 * `request` sealed: `;q=<counter>;m=<mac>` appended, the MAC over the
 * datagram up to (not including) `;m=`.
 *
 * @example
 * ```ts
 * const key = new Uint8Array(32);
 * const sealed = seal({ kind: "ext-request", type: "K", address: "laura@bb.com", params: [] }, key, 7);
 * // PKlaura@bb.com;q=7;m=<16 characters>
 * ```
 */
export function seal<M extends SealedRequest>(request: M, key: Uint8Array, counter: number): M {
  const counted = { ...request, params: [...request.params, COUNTER.write(counter)] };
  return { ...counted, params: [...counted.params, MAC.write(macOf(key, formatPlumi(counted)))] };
}

/** A sealed request taken apart: what the node checks, and the body it then handles. */
export interface Unsealed<M extends SealedRequest> {
  readonly counter: number;
  readonly mac: string;
  /** The datagram's text before `;m=`: what the MAC covers. */
  readonly signed: string;
  /** The request without `q=` and `m=`, for its handler. */
  readonly body: M;
}

/**
 * Take a sealed request apart, or `undefined` when it is not one: `q=`
 * and `m=` must be its last two parameters, each once and well formed.
 * `size` is the datagram's length in bytes: a datagram the codec did not
 * read back byte for byte (an empty parameter, say) is not one either, so
 * the MAC covers exactly what was received.
 */
export function unseal<M extends SealedRequest>(
  request: M,
  size: number,
): Unsealed<M> | undefined {
  const params = request.params;
  const n = params.length;
  if (n < 2) return undefined;
  const q = params[n - 2]!;
  const m = params[n - 1]!;
  if (!q.startsWith("q=") || !m.startsWith("m=")) return undefined;
  const counter = COUNTER.read(q.slice(2));
  const mac = MAC.read(m.slice(2));
  if (!counter.ok || !mac.ok || mac.value.length !== MAC_CHARS) return undefined;
  const rest = params.slice(0, n - 2);
  if (rest.some((p) => p.startsWith("q=") || p.startsWith("m="))) return undefined;
  if (encoder.encode(formatPlumi(request)).length !== size) return undefined;
  const signed = formatPlumi({ ...request, params: params.slice(0, n - 1) });
  return { counter: counter.value, mac: mac.value, signed, body: { ...request, params: rest } };
}

/**
 * The counters a session has accepted: the highest, and which of the
 * {@linkcode COUNTER_WINDOW} below it were seen (bit `i`: `last − i`).
 * A plain record, so it can be stored anywhere.
 */
export interface CounterWindow {
  readonly last: number;
  readonly seen: number;
}

/** A session's window before its first request. */
export const NO_COUNTER: CounterWindow = { last: 0, seen: 0 };

/**
 * The window after accepting `counter`, or `undefined` when it must be
 * refused: seen already, or older than the window.
 */
export function acceptCounter(window: CounterWindow, counter: number): CounterWindow | undefined {
  const { last, seen } = window;
  if (counter > last) {
    const shift = counter - last;
    const kept = shift >= COUNTER_WINDOW ? 0 : (seen << shift) >>> 0;
    return { last: counter, seen: (kept | 1) >>> 0 };
  }
  const age = last - counter;
  if (age >= COUNTER_WINDOW) return undefined;
  const bit = (1 << age) >>> 0;
  if ((seen & bit) !== 0) return undefined;
  return { last, seen: (seen | bit) >>> 0 };
}

/**
 * The agent's side of a session's seal: the key, and the counter of its
 * last request. Every datagram (each retransmission too) takes the next
 * counter, so no two are alike and the node refuses none of them as copies.
 */
export class RequestSealer {
  readonly #key: Uint8Array;
  #counter = 0;

  constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** The counter of the last request sealed (0 before the first). */
  get counter(): number {
    return this.#counter;
  }

  /** `request` with the next counter and its MAC. */
  seal<M extends SealedRequest>(request: M): M {
    return seal(request, this.#key, ++this.#counter);
  }
}

/** Is `message` a request of a session (sent sealed): `PK`, `PB`, `PS`, `PO`, `PI`, `PY`, `PD…;v=2`? */
export function needsSeal(message: { readonly kind: string }): message is SealedRequest {
  const m = message as SealedRequest;
  return m.kind === "ext-request"
    ? SEALED_LETTERS.has(m.type)
    : m.kind === "deregister" && m.params.includes("v=2");
}
