/**
 * A user's long-term identity: one X25519 key pair per @MI address, the static
 * key of every Noise handshake. Its file (`<name>@<domain>.key` in the agent's
 * folder, mode 0600) holds the secret key; the public key is derived. Also:
 * fingerprints and the safety number that `/verify` shows.
 *
 * Pure: the file's text in, the file's text out.
 *
 * @module
 */

import { sha256 } from "#hashes/sha2.js";
import { fromBase64Url, toBase64Url } from "../auth.ts";
import { generateKeyPair, type KeyPair, keyPairFromSecret, type RawKeyPair } from "./noise.ts";

export type { KeyPair, RawKeyPair };

const HEADER = "# LUMI identity key: keep this file private; losing it changes your key";

/** A new identity (a fresh random key pair). */
export function newIdentity(): RawKeyPair {
  return generateKeyPair();
}

/** The text of an identity file for `address`. */
export function encodeIdentityFile(address: string, keys: RawKeyPair): string {
  return `${HEADER}\naddress=${address}\nsecret=${toBase64Url(new Uint8Array(keys.secretKey))}\n`;
}

/** Read an identity file: the key pair, or a `SyntaxError` saying what is wrong. */
export function decodeIdentityFile(text: string): RawKeyPair | SyntaxError {
  const line = text.split("\n").find((l) => l.startsWith("secret="));
  if (line === undefined) return new SyntaxError("the identity file has no secret= line");
  const secret = fromBase64Url(line.slice("secret=".length).trim());
  if (secret === undefined || secret.length !== 32) {
    return new SyntaxError("the identity file's secret is not a 32-byte key");
  }
  return keyPairFromSecret(secret);
}

/** A public key as text: URL-safe base64 without padding (43 characters). */
export function keyToText(publicKey: Uint8Array): string {
  return toBase64Url(new Uint8Array(publicKey));
}

/** A public key from its text; `undefined` unless it is 32 bytes of URL-safe base64. */
export function keyFromText(text: string): Uint8Array | undefined {
  const key = fromBase64Url(text);
  return key?.length === 32 ? key : undefined;
}

/** Whether two keys are the same bytes. */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A short fingerprint of a key: the first 10 bytes of its SHA-256, as 5 groups of 4 hex digits. */
export function fingerprint(publicKey: Uint8Array): string {
  const hex = Array.from(sha256(publicKey).subarray(0, 10), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  return hex.match(/.{4}/g)!.join(" ");
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/**
 * The safety number of two keys: the same whichever side computes it (the keys
 * are sorted first). 60 digits in 12 groups of 5, from SHA-256 of a label and
 * both keys: compare it by voice or in person.
 */
export function safetyNumber(mine: Uint8Array, theirs: Uint8Array): string {
  const [first, second] = compare(mine, theirs) <= 0 ? [mine, theirs] : [theirs, mine];
  const label = new TextEncoder().encode("LUMI safety number v1");
  const input = new Uint8Array(1 + label.length + 64);
  input.set(label, 1);
  input.set(first, 1 + label.length);
  input.set(second, 1 + label.length + 32);
  const digest = new Uint8Array(64);
  digest.set(sha256(input), 0);
  input[0] = 1;
  digest.set(sha256(input), 32);
  const groups: string[] = [];
  for (let g = 0; g < 12; g++) {
    let value = 0;
    for (let i = 0; i < 5; i++) value = value * 256 + digest[g * 5 + i]!;
    groups.push(String(value % 100000).padStart(5, "0"));
  }
  return groups.join(" ");
}
