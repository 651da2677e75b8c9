/**
 * The fields the offline-message extensions share (`PM` deposit, `PF`
 * fetch, `PW` key; docs/PROTOCOL.md, "Offline messages"): the message id,
 * the part number, the data, the sender, the time.
 *
 * @module
 */

import { addressField, base64Field, countField, fail, type Field, ok } from "./fields.ts";

/** Longest `d=` value: the part of a sealed message one datagram carries (base64 characters). */
export const MAX_PART_CHARS = 440;

/** Most parts of one message (4 KiB of ciphertext in parts of 300 bytes, and room to spare). */
export const MAX_PARTS = 32;

const ID_RE = /^[0-9a-f]{16}$/;

/** A message id: 16 lowercase hex digits (8 random bytes). */
function idField(key: string): Field<string> {
  return {
    key,
    kind: "base64",
    max: 16,
    read: (text) =>
      ID_RE.test(text) ? ok(text) : fail(
        "malformed",
        key,
        `${key}= must be 16 lowercase hex digits, not "${text.slice(0, 20)}"`,
      ),
    write: (id) => `${key}=${id}`,
  };
}

/** `id=<16 hex>`: which message. */
export const MESSAGE_ID: Field<string> = idField("id");

/** Most messages one fetch acknowledges (`a=<id>.<id>…`), and most fetched at once (`i=`). */
export const MAX_BATCH = 16;

const ACKS_RE = new RegExp(`^[0-9a-f]{16}(?:\\.[0-9a-f]{16}){0,${MAX_BATCH - 1}}$`);

/** `a=<16 hex>[.<16 hex>…]`: the messages acknowledged (the node deletes them). */
export const ACK_IDS: Field<readonly string[]> = {
  key: "a",
  kind: "mark",
  max: MAX_BATCH * 17 - 1,
  read: (text) =>
    text.length <= MAX_BATCH * 17 - 1 && ACKS_RE.test(text) ? ok(text.split(".")) : fail(
      "malformed",
      "a",
      `a= must be 1 to ${MAX_BATCH} message ids joined by ".", not "${text.slice(0, 20)}"`,
    ),
  write: (ids) => `a=${ids.join(".")}`,
};

/** `i=<index>`: which of the waiting messages, 0 the oldest (a fetch of several at once). */
export const INDEX: Field<number> = countField("i", 0, MAX_BATCH - 1);

/** A part of a message: `n=<part>/<parts>`, both from 1 to {@linkcode MAX_PARTS}. */
export interface PartOf {
  readonly part: number;
  readonly parts: number;
}

const PART_RE = /^([1-9][0-9]?)\/([1-9][0-9]?)$/;

/** `n=<part>/<parts>`. */
export const PART: Field<PartOf> = {
  key: "n",
  kind: "page",
  max: 5,
  read(text) {
    const m = text.length <= 5 ? PART_RE.exec(text) : null;
    const part = Number(m?.[1]);
    const parts = Number(m?.[2]);
    return m && part <= parts && parts <= MAX_PARTS ? ok({ part, parts }) : fail(
      "malformed",
      "n",
      `n= must be <part>/<parts> (at most ${MAX_PARTS}), not "${text.slice(0, 20)}"`,
    );
  },
  write: ({ part, parts }) => `n=${part}/${parts}`,
};

/** `d=<base64>`: one part of the sealed message. */
export const DATA: Field<string> = base64Field("d", MAX_PART_CHARS);

/** `f=<address>`: who sent it (as the sender says; the sealed message proves it to the recipient). */
export const SENDER: Field<string> = addressField("f");

/** `s=<seconds>`: when the node stored it, in seconds since the epoch. */
export const STORED_AT: Field<number> = countField("s", 0, 99_999_999_999);

/** `c=<count>`: messages waiting (a node's notice). */
export const WAITING: Field<number> = countField("c", 0, 999_999);

/** The bytes of a `d=` value (URL-safe base64 without padding); `undefined` if it is not one. */
export function dataBytes(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (text.length % 4 === 1 || text.includes("=")) return undefined;
  try {
    return Uint8Array.fromBase64(text, { alphabet: "base64url" });
  } catch {
    return undefined;
  }
}

/** `bytes` as a `d=` value. */
export function dataText(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: "base64url", omitPadding: true });
}
