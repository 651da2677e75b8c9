/**
 * PLUMI message types: one interface per packet type, told apart by `kind`.
 *
 * @module
 */

import type { Endpoint } from "./address.ts";

/** Largest PLUMI packet an original peer accepts, in bytes. */
export const MAX_PACKET_BYTES = 100;

/** RL answer codes. */
export const LookupCode = {
  /** Found and available; the answer carries the callee's @sckMI. */
  Found: 0,
  /** The callee is busy in another conversation. */
  Busy: 1,
  /** No such user, or no such domain. */
  NoSuchUser: 2,
  /** The user is offline. */
  Offline: 3,
} as const;

/** A look-up answer code, 0–3. */
export type LookupCode = typeof LookupCode[keyof typeof LookupCode];

/** `PR<addr>[;param…]`: register `address` at the sender's UDP address. */
export interface RegisterRequest {
  readonly kind: "register";
  /** The @MI address, as text (`laura@bb.com`). */
  readonly address: string;
  /** Extension parameters after the address (`v=2`, …); empty for original agents. */
  readonly params: readonly string[];
}

/** `RR0` / `RR1[;param…]`: 0 registered, 1 no such user. */
export interface RegisterReply {
  readonly kind: "register-reply";
  readonly code: 0 | 1;
  /** Extension parameters an extended node lists after the code. */
  readonly params: readonly string[];
}

/** `PD<addr>`: deregister. */
export interface DeregisterRequest {
  readonly kind: "deregister";
  readonly address: string;
  readonly params: readonly string[];
}

/** `RD0` / `RD1`: 0 done, 1 no such user. */
export interface DeregisterReply {
  readonly kind: "deregister-reply";
  readonly code: 0 | 1;
  readonly params: readonly string[];
}

/** `PL<from>:<to>`: `from` asks where `to` can be reached. */
export interface LookupRequest {
  readonly kind: "lookup";
  readonly from: string;
  readonly to: string;
}

/** `RL<c><from>:<to>[:<ip>:<port>[:extra…]]`: the answer to a look-up. */
export interface LookupReply {
  readonly kind: "lookup-reply";
  readonly code: LookupCode;
  readonly from: string;
  readonly to: string;
  /** The callee's @sckMI; always present with code 0. */
  readonly endpoint?: Endpoint;
  /** Further `:`-separated fields after the port (agent features). */
  readonly extra: readonly string[];
}

/** Largest PLUMI packet between extended peers (after `v=2` was negotiated), in bytes. */
export const MAX_EXTENDED_PACKET_BYTES = 512;

/**
 * The extension packet types (`P<letter>` requests, `R<letter>` replies),
 * spoken only between peers that negotiated `v=2`: the one list of their
 * letters. Each has one definition in `lib/plumi/extensions/`.
 */
export const EXTENSION_LETTERS = {
  K: "heartbeat",
  U: "sign-up",
  B: "buddy list change",
  S: "buddy status",
  O: "who is online",
  P: "presence query between nodes",
  Y: "relay for agents behind NAT",
  I: "identity keys",
  V: "vouch query between nodes",
  J: "relay across domains between nodes",
  M: "offline message deposit",
  F: "offline message fetch",
  W: "identity key for offline messages",
} as const;

/** An extension packet type letter. */
export type ExtensionType = keyof typeof EXTENSION_LETTERS;

/** Every extension letter, in the order of {@linkcode EXTENSION_LETTERS} (`"KUBSOPYIVJMFW"`). */
export const EXTENSION_TYPES: readonly ExtensionType[] = Object.keys(
  EXTENSION_LETTERS,
) as ExtensionType[];

/** Is `letter` an extension packet type? */
export function isExtensionType(letter: string): letter is ExtensionType {
  return Object.hasOwn(EXTENSION_LETTERS, letter);
}

/** `P<type><addr>[;param…]`: an extension request about `address`. */
export interface ExtensionRequest {
  readonly kind: "ext-request";
  readonly type: ExtensionType;
  readonly address: string;
  readonly params: readonly string[];
}

/** `R<type><code>[;param…]`: the answer to an extension request; `code` is one digit. */
export interface ExtensionReply {
  readonly kind: "ext-reply";
  readonly type: ExtensionType;
  readonly code: number;
  readonly params: readonly string[];
}

/** Any PLUMI message. */
export type PlumiMessage =
  | RegisterRequest
  | RegisterReply
  | DeregisterRequest
  | DeregisterReply
  | LookupRequest
  | LookupReply
  | ExtensionRequest
  | ExtensionReply;

/** The `kind` of a PLUMI message. */
export type PlumiKind = PlumiMessage["kind"];

/** Why a datagram is not a valid PLUMI message. */
export type PlumiErrorKind =
  | "empty"
  | "too-long"
  | "non-ascii"
  | "unknown-type"
  | "missing-at"
  | "missing-colon"
  | "bad-name"
  | "bad-domain"
  | "bad-code"
  | "missing-endpoint"
  | "bad-ip"
  | "bad-port"
  | "trailing-data";

/** A decode failure: a kind to count and a message to log. */
export interface PlumiError {
  readonly kind: PlumiErrorKind;
  readonly message: string;
}

/** The result of decoding one datagram. */
export type DecodeResult =
  | { readonly ok: true; readonly message: PlumiMessage }
  | { readonly ok: false; readonly error: PlumiError };
