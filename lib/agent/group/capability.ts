/**
 * Who may join a group: the **group secret** and the members' **capabilities**
 * (PROTOCOL.md, "Invitations and capabilities"). Every group has a random
 * 32-byte secret, made by the member who started it and handed to each
 * invitee inside its (encrypted) invitation. A member's capability is
 * HMAC-SHA256 under that secret over the group id, the member's address and
 * its identity key: the inviter computes it for the invitee's key, as the
 * encrypted group link just proved it, and sends it in the `J i` record. A
 * `J m` (a link between members) must carry the caller's capability, which the
 * callee recomputes for the address and key its link just proved: knowing the
 * group id is not enough, a capability made for someone else (or for another
 * key) is refused, and so is one made without the secret. Pure.
 *
 * @module
 */

import { hmac } from "#hashes/hmac.js";
import { sha256 } from "#hashes/sha2.js";
import { fromBase64Url, toBase64Url } from "../../auth.ts";
import { keyToText } from "../../crypto/mod.ts";

/** Bytes of a group secret and of a capability. */
export const SECRET_BYTES = 32;

/** The label the capability's MAC starts with (a later version changes it). */
export const CAPABILITY_LABEL = "LUMI-GROUP-MEMBER/1";

const encoder = new TextEncoder();

/** A fresh random group secret. */
export function newGroupSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
}

/**
 * The capability of `address` with identity key `key` in group `gid`:
 * `HMAC-SHA256(secret, "LUMI-GROUP-MEMBER/1\n<gid>\n<address, lower case>\n<key, base64url>")`.
 *
 * @example
 * ```ts
 * const secret = newGroupSecret();
 * const cap = capability(secret, "k3x9q2ma", "bo@aa.test", boKey);
 * checkCapability(secret, "k3x9q2ma", "bo@aa.test", boKey, cap); // true
 * ```
 */
export function capability(
  secret: Uint8Array,
  gid: string,
  address: string,
  key: Uint8Array,
): Uint8Array {
  const text = `${CAPABILITY_LABEL}\n${gid}\n${address.toLowerCase()}\n${keyToText(key)}`;
  return hmac(sha256, secret, encoder.encode(text));
}

/** Whether `presented` is the capability of `address` with `key` in `gid` (constant time). */
export function checkCapability(
  secret: Uint8Array,
  gid: string,
  address: string,
  key: Uint8Array,
  presented: Uint8Array | undefined,
): boolean {
  if (presented === undefined || presented.length !== SECRET_BYTES) return false;
  const expected = capability(secret, gid, address, key);
  let diff = 0;
  for (let i = 0; i < SECRET_BYTES; i++) diff |= expected[i]! ^ presented[i]!;
  return diff === 0;
}

/** 32 bytes as the 43 characters of URL-safe base64 that travel in `J` records. */
export function secretToText(bytes: Uint8Array): string {
  return toBase64Url(new Uint8Array(bytes));
}

/** 32 bytes from their text; `undefined` unless it is 32 bytes of URL-safe base64. */
export function secretFromText(text: string): Uint8Array | undefined {
  const bytes = fromBase64Url(text);
  return bytes?.length === SECRET_BYTES ? new Uint8Array(bytes) : undefined;
}

/** Whether `text` has the form of a secret or capability on the wire (43 base64url characters). */
export function isSecretText(text: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(text);
}
