/**
 * Password proofs for authenticated registration, after SCRAM-SHA-256
 * (RFC 5802 / 7677), cut down to one round trip over PLUMI:
 *
 * - the node stores, per user, `salt`, `iterations` and
 *   `storedKey = SHA-256(clientKey)`, where
 *   `clientKey = HMAC(PBKDF2-SHA-256(password, salt, iterations), "Client Key")`;
 *   neither the password nor anything that logs in by itself is stored;
 * - for each request it sends a fresh single-use nonce with the salt and
 *   iteration count;
 * - the agent answers `proof = clientKey XOR HMAC(storedKey, authMessage)`;
 * - the node recovers `clientKey` from the proof and checks that its SHA-256
 *   is `storedKey`.
 *
 * The password never crosses the network, a captured proof is useless once
 * its nonce is spent, and a stolen user table does not let anyone log in
 * without first cracking the slow hash.
 *
 * @module
 */

/** PBKDF2 iterations for new passwords (OWASP 2023 for PBKDF2-HMAC-SHA-256). */
export const DEFAULT_ITERATIONS = 600_000;

/** What a node stores for a user with a password. */
export interface StoredCredentials {
  readonly salt: Bytes;
  readonly iterations: number;
  readonly storedKey: Bytes;
}

const encoder = new TextEncoder();

/** Bytes backed by a plain `ArrayBuffer`, as WebCrypto takes them. */
export type Bytes = Uint8Array<ArrayBuffer>;

async function hmac(key: Bytes, data: Bytes): Promise<Bytes> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

async function sha256(data: Bytes): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
}

function xor(a: Bytes, b: Bytes): Bytes {
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ (b[i] ?? 0);
  return out;
}

/** Compare in time independent of where the bytes differ. */
export function constantTimeEqual(a: Bytes, b: Bytes): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/** The agent's secret for one salt: derived from the password with the slow hash. */
export async function deriveClientKey(
  password: string,
  salt: Bytes,
  iterations: number,
): Promise<Bytes> {
  const base = await crypto.subtle.importKey(
    "raw",
    encoder.encode(password.normalize("NFC")),
    "PBKDF2",
    false,
    [
      "deriveBits",
    ],
  );
  const salted = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt, iterations },
      base,
      256,
    ),
  );
  return await hmac(salted, encoder.encode("Client Key"));
}

/** Make what the node stores for a new password (fresh random salt). */
export async function createCredentials(
  password: string,
  iterations: number = DEFAULT_ITERATIONS,
): Promise<StoredCredentials> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const clientKey = await deriveClientKey(password, salt, iterations);
  return { salt, iterations, storedKey: await sha256(clientKey) };
}

/**
 * The text both sides sign: what is asked, by whom, under which nonce, and
 * (a `v=2` registration) for which session key of the agent (its `k=`), so
 * that a key changed on the path fails the proof.
 */
export function authMessage(
  operation: string,
  address: string,
  nonce: string,
  sessionKey?: string,
): string {
  return `${operation}|${address}|${nonce}${sessionKey === undefined ? "" : `|${sessionKey}`}`;
}

/** The agent's proof for `message`. */
export async function makeProof(clientKey: Bytes, message: string): Promise<Bytes> {
  const storedKey = await storedKeyOf(clientKey);
  return xor(clientKey, await hmac(storedKey, encoder.encode(message)));
}

/** `storedKey = SHA-256(clientKey)`: what the node keeps, and what binds a session key. */
export async function storedKeyOf(clientKey: Bytes): Promise<Bytes> {
  return await sha256(clientKey);
}

/** The node's check of a proof. */
export async function verifyProof(
  credentials: StoredCredentials,
  message: string,
  proof: Bytes,
): Promise<boolean> {
  if (proof.length !== credentials.storedKey.length) return false;
  const clientKey = xor(proof, await hmac(credentials.storedKey, encoder.encode(message)));
  return constantTimeEqual(await sha256(clientKey), credentials.storedKey);
}

/** A fresh random nonce, as URL-safe base64 without padding (22 characters). */
export function newNonce(): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(16)));
}

/** Bytes to URL-safe base64 without padding (safe inside PLUMI: no `:` `;` `@`). */
export function toBase64Url(bytes: Bytes): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** URL-safe base64 to bytes; `undefined` if it is not valid. */
export function fromBase64Url(text: string): Bytes | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return undefined;
  const binary = atob(
    text.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - text.length % 4) % 4),
  );
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
