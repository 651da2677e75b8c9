/**
 * Group records inside the encrypted channel (PROTOCOL.md, "Encrypted group
 * links"): after the nicknames, a group link runs the same Noise handshake as
 * a conversation (`H` frames, `lib/crypto/`), with a prologue of its own, and
 * from then on every record travels sealed in `E` frames. The plaintext of one
 * sealed record is `G` followed by one or more group records, each preceded by
 * its length (2 bytes, big-endian). Pure.
 *
 * @module
 */

import {
  encodePieces,
  MAX_RECORD_BYTES as MAX_SEALED_BYTES,
  PieceJoiner,
  RECORD_FRAME,
  type SecureChannel,
} from "../../crypto/mod.ts";
import { groupLinkText } from "../terminal/texts.ts";
import { decodeRecord, MAX_RECORD_BYTES, type RecordResult } from "./wire.ts";

/** Frame types of an encrypted group link: handshake pieces, then sealed records. */
export const SECURE_GROUP_FRAME_TYPES = "HE";

/** The label of a group link's prologue: a conversation's handshake never fits a group link. */
export const GROUP_PROLOGUE_LABEL = "LUMI-GROUP-E2E/1";

/** First byte of a sealed record's plaintext that carries group records (`G`). */
const GROUP_RECORDS = 0x47;

/** Plaintext bytes of group records sealed together, at most (one record of any size alone). */
export const BATCH_BYTES = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The prologue of a group link: the label and both nicknames as they went on the wire. */
export function groupPrologue(callerNick: string, calleeNick: string): Uint8Array {
  return encoder.encode(`${GROUP_PROLOGUE_LABEL}\n${callerNick}\n${calleeNick}`);
}

/**
 * Seal group records (each the UTF-8 text of one record) into `E` frames:
 * as few sealed records as hold them, {@linkcode BATCH_BYTES} of plaintext each.
 *
 * @example
 * ```ts
 * link.write(sealRecords(channel, [encoder.encode("M 1 hi")]));
 * ```
 */
export function sealRecords(channel: SecureChannel, records: readonly Uint8Array[]): Uint8Array {
  const out: Uint8Array[] = [];
  for (let i = 0; i < records.length;) {
    let size = 1;
    let count = 0;
    while (
      i + count < records.length &&
      (count === 0 || size + 2 + records[i + count]!.length <= BATCH_BYTES)
    ) {
      size += 2 + records[i + count]!.length;
      count++;
    }
    const plain = new Uint8Array(size);
    plain[0] = GROUP_RECORDS;
    let at = 1;
    for (const record of records.slice(i, i + count)) {
      plain[at] = record.length >> 8;
      plain[at + 1] = record.length & 0xff;
      plain.set(record, at + 2);
      at += 2 + record.length;
    }
    out.push(encodePieces(RECORD_FRAME, channel.seal(plain)));
    i += count;
  }
  if (out.length === 1) return out[0]!;
  const all = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of out) {
    all.set(b, at);
    at += b.length;
  }
  return all;
}

/** What one `E` frame gives: nothing yet, the records of a whole sealed record, or why the link ends. */
export type OpenedRecords =
  | { readonly kind: "more" }
  | { readonly kind: "records"; readonly records: readonly RecordResult[] }
  | { readonly kind: "error"; readonly message: string; readonly channel: boolean };

/** Opens the sealed records of one direction of a group link. */
export class RecordOpener {
  readonly #channel: SecureChannel;
  readonly #joiner = new PieceJoiner(MAX_SEALED_BYTES);

  /** An opener for the records `channel` receives. */
  constructor(channel: SecureChannel) {
    this.#channel = channel;
  }

  /** Feed the info of one `E` frame. */
  push(info: Uint8Array): OpenedRecords {
    const step = this.#joiner.push(info);
    if (step.kind === "error") return { kind: "error", message: step.reason, channel: false };
    if (step.kind === "more") return step;
    const opened = this.#channel.open(step.message);
    if (!opened.ok) return { kind: "error", message: opened.reason, channel: true };
    const plain = opened.plaintext;
    // Other first bytes are for later versions: skipped.
    if (plain[0] !== GROUP_RECORDS) return { kind: "records", records: [] };
    const records: RecordResult[] = [];
    for (let at = 1; at < plain.length;) {
      const length = (plain[at]! << 8) | (plain[at + 1] ?? 0);
      if (at + 2 + length > plain.length) {
        return { kind: "error", message: groupLinkText.overrun(), channel: false };
      }
      if (length > MAX_RECORD_BYTES) {
        return {
          kind: "error",
          message: groupLinkText.tooLong(MAX_RECORD_BYTES),
          channel: false,
        };
      }
      records.push(decodeRecord(decoder.decode(plain.subarray(at + 2, at + 2 + length))));
      at += 2 + length;
    }
    return { kind: "records", records };
  }
}
