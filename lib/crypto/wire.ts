/**
 * How handshake messages and sealed records travel inside PMI: as extension
 * frames `H` (handshake) and `E` (encrypted record), each
 * `<type><len><flag><piece>` with flag `+` (more pieces follow) or `.` (last
 * piece), as the group links' `G` frames. So a record of any size (a line
 * longer than 99 bytes included) travels whole, and the connection stays a
 * stream of PMI frames.
 *
 * Pure.
 *
 * @module
 */

import { encodeFrame, MAX_INFO_BYTES } from "../pmi/frame.ts";

/** Frame type of a handshake message piece. */
export const HANDSHAKE_FRAME = "H";
/** Frame type of a sealed record piece. */
export const RECORD_FRAME = "E";
/** Largest handshake message a receiver accepts, in bytes. */
export const MAX_HANDSHAKE_BYTES = 1024;
/** Largest sealed record a receiver accepts, in bytes (a 16 KiB line and its overhead). */
export const MAX_RECORD_BYTES = 16384 + 64;

const PIECE = MAX_INFO_BYTES - 1;
const MORE = 0x2b; // "+"
const LAST = 0x2e; // "."

/** Encode one message as frames of `type`, back to back in one buffer. */
export function encodePieces(type: string, message: Uint8Array): Uint8Array {
  const count = Math.max(1, Math.ceil(message.length / PIECE));
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const piece = message.subarray(i * PIECE, (i + 1) * PIECE);
    const info = new Uint8Array(piece.length + 1);
    info[0] = i === count - 1 ? LAST : MORE;
    info.set(piece, 1);
    frames.push(encodeFrame(type, info));
  }
  if (frames.length === 1) return frames[0]!;
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

/** What feeding a piece gives: nothing yet, a whole message, or an error. */
export type PieceResult =
  | { readonly kind: "more" }
  | { readonly kind: "message"; readonly message: Uint8Array }
  | { readonly kind: "error"; readonly reason: string };

/** Joins the pieces of one frame type into whole messages, with a size bound. */
export class PieceJoiner {
  readonly #max: number;
  #parts: Uint8Array[] = [];
  #size = 0;

  /** A joiner refusing messages longer than `maxBytes`. */
  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  /** Feed the `info` of one frame. */
  push(info: Uint8Array): PieceResult {
    const flag = info[0];
    if (flag !== MORE && flag !== LAST) {
      return { kind: "error", reason: "an encrypted-channel frame has no piece flag" };
    }
    const piece = info.subarray(1);
    this.#size += piece.length;
    if (this.#size > this.#max) {
      return { kind: "error", reason: `an encrypted-channel message is over ${this.#max} bytes` };
    }
    this.#parts.push(piece);
    if (flag === MORE) return { kind: "more" };
    const message = new Uint8Array(this.#size);
    let at = 0;
    for (const p of this.#parts) {
      message.set(p, at);
      at += p.length;
    }
    this.#parts = [];
    this.#size = 0;
    return { kind: "message", message };
  }
}
