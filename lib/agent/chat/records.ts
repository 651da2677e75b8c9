/**
 * The plaintext records inside an encrypted conversation (PROTOCOL.md,
 * "Encrypted conversations" and "Message ids and receipts"): the first byte
 * says what a record carries. Defined once here, for the conversation, the
 * tests and the benchmarks. Pure.
 *
 * ```
 * "L" { <length: 2 bytes, big-endian> <one line, UTF-8> }   lines
 * "I" { <message id: 8 bytes> }                              ids of the next "L" record's lines
 * "A" { <message id: 8 bytes> }                              these lines arrived (receipts)
 * "R" <version: 1 byte>                                      this agent acknowledges and drops duplicates
 * ```
 *
 * An agent of before receipts skips every first byte but `L`: it shows the
 * lines and never sees the rest.
 *
 * @module
 */

/** The first byte of each record kind. */
export const RECORD_KIND = {
  /** Lines. */
  lines: 0x4c,
  /** The message ids of the lines of the `L` record that follows. */
  ids: 0x49,
  /** Receipts: message ids of lines that arrived. */
  acks: 0x41,
  /** The receipts hello: the sender acknowledges lines and drops duplicates. */
  hello: 0x52,
} as const;

/** The receipts version an agent says in its hello. */
export const RECEIPTS_VERSION = 1;

/** Bytes of a message id on the wire (16 hex characters in text). */
export const MESSAGE_ID_BYTES = 8;

/** Most ids in one `I` or `A` record (and lines in one `L` record that has ids). */
export const MAX_IDS_PER_RECORD = 1_024;

/** A decoded record. */
export type Record =
  | { readonly kind: "lines"; readonly lines: readonly Uint8Array[] }
  | { readonly kind: "ids"; readonly ids: readonly string[] }
  | { readonly kind: "acks"; readonly ids: readonly string[] }
  | { readonly kind: "hello"; readonly version: number }
  /** A first byte of a later version: skipped. */
  | { readonly kind: "unknown" }
  | { readonly kind: "error"; readonly reason: string };

/** Whether `id` is a message id in text: 16 lowercase hex characters. */
export function isMessageId(id: string): boolean {
  return /^[0-9a-f]{16}$/.test(id);
}

/**
 * A new message id: 8 random bytes (`crypto.getRandomValues`) as 16
 * lowercase hex characters.
 *
 * @example
 * ```ts
 * newMessageId(); // "3f9a0c55e1b27d04"
 * ```
 */
export function newMessageId(): string {
  return idText(crypto.getRandomValues(new Uint8Array(MESSAGE_ID_BYTES)), 0);
}

function idText(bytes: Uint8Array, at: number): string {
  let text = "";
  for (let i = at; i < at + MESSAGE_ID_BYTES; i++) text += HEX[bytes[i]!]!;
  return text;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** An `L` record of `lines` (each at most 65,535 bytes). */
export function encodeLines(lines: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(lines.reduce((n, line) => n + 2 + line.length, 1));
  out[0] = RECORD_KIND.lines;
  let at = 1;
  for (const line of lines) {
    out[at] = line.length >> 8;
    out[at + 1] = line.length & 0xff;
    out.set(line, at + 2);
    at += 2 + line.length;
  }
  return out;
}

/** An `I` (`kind` "ids") or `A` ("acks") record of message ids; ids not of the form are refused. */
export function encodeIds(kind: "ids" | "acks", ids: readonly string[]): Uint8Array {
  const out = new Uint8Array(1 + ids.length * MESSAGE_ID_BYTES);
  out[0] = RECORD_KIND[kind];
  ids.forEach((id, i) => {
    if (!isMessageId(id)) throw new TypeError(`"${id}" is not a message id (16 lowercase hex)`);
    for (let b = 0; b < MESSAGE_ID_BYTES; b++) {
      out[1 + i * MESSAGE_ID_BYTES + b] = parseInt(id.slice(b * 2, b * 2 + 2), 16);
    }
  });
  return out;
}

/** The receipts hello. */
export function encodeHello(): Uint8Array {
  return Uint8Array.of(RECORD_KIND.hello, RECEIPTS_VERSION);
}

/** Read one opened record. Never throws: a malformed one is `error` (the conversation ends). */
export function decodeRecord(record: Uint8Array): Record {
  switch (record[0]) {
    case RECORD_KIND.lines: {
      const lines: Uint8Array[] = [];
      for (let at = 1; at < record.length;) {
        if (at + 2 > record.length) return { kind: "error", reason: "a record's lines overrun it" };
        const length = (record[at]! << 8) | record[at + 1]!;
        if (at + 2 + length > record.length) {
          return { kind: "error", reason: "a record's lines overrun it" };
        }
        lines.push(record.subarray(at + 2, at + 2 + length));
        at += 2 + length;
      }
      return { kind: "lines", lines };
    }
    case RECORD_KIND.ids:
    case RECORD_KIND.acks: {
      const body = record.length - 1;
      if (body % MESSAGE_ID_BYTES !== 0 || body / MESSAGE_ID_BYTES > MAX_IDS_PER_RECORD) {
        return { kind: "error", reason: "a record of message ids has a bad length" };
      }
      const ids: string[] = [];
      for (let at = 1; at < record.length; at += MESSAGE_ID_BYTES) ids.push(idText(record, at));
      return { kind: record[0] === RECORD_KIND.ids ? "ids" : "acks", ids };
    }
    case RECORD_KIND.hello:
      if (record.length < 2) return { kind: "error", reason: "a receipts hello without version" };
      return { kind: "hello", version: record[1]! };
    default:
      return { kind: "unknown" };
  }
}
