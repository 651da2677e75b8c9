/**
 * PMI frames (`<type><len><info>`) and their encoders. Pure.
 *
 * @module
 */

/** Largest `info` of one frame, in bytes. */
export const MAX_INFO_BYTES = 99;

/** Largest whole frame: type, two length digits, 99 bytes of info. */
export const MAX_FRAME_BYTES = 3 + MAX_INFO_BYTES;

/** `N<nick>`: the sender's nickname. */
export interface NickFrame {
  readonly kind: "nick";
  readonly text: string;
}

/** `L<text>`: one line (or one piece of a long line) of the conversation. */
export interface LineFrame {
  readonly kind: "line";
  readonly text: string;
}

/** A frame of a type the decoder was told to accept beyond `N` and `L` (extensions). */
export interface ExtensionFrame {
  readonly kind: "extension";
  readonly type: string;
  readonly info: Uint8Array;
}

/** Any decoded PMI frame. */
export type PmiFrame = NickFrame | LineFrame | ExtensionFrame;

const encoder = new TextEncoder();

/**
 * Encode one frame. Throws `RangeError` if `type` is not one ASCII letter or
 * `info` is longer than 99 bytes: both are programming errors.
 */
export function encodeFrame(type: string, info: Uint8Array): Uint8Array {
  if (!/^[A-Za-z]$/.test(type)) {
    throw new RangeError(`PMI frame type must be one ASCII letter, got "${type}"`);
  }
  if (info.length > MAX_INFO_BYTES) {
    throw new RangeError(`PMI frame info is ${info.length} bytes; the limit is ${MAX_INFO_BYTES}`);
  }
  const frame = new Uint8Array(3 + info.length);
  frame[0] = type.charCodeAt(0);
  frame[1] = 0x30 + Math.floor(info.length / 10);
  frame[2] = 0x30 + (info.length % 10);
  frame.set(info, 3);
  return frame;
}

/**
 * Split UTF-8 bytes into pieces of at most `max` bytes, never inside a
 * character (so every piece of valid UTF-8 is valid UTF-8 on its own; bytes
 * that are not UTF-8 are cut at `max`). Always returns at least one piece,
 * empty for empty input.
 */
export function splitUtf8(bytes: Uint8Array, max = MAX_INFO_BYTES): Uint8Array[] {
  if (max < 4) throw new RangeError("pieces must hold at least 4 bytes");
  const pieces: Uint8Array[] = [];
  let start = 0;
  while (bytes.length - start > max) {
    let end = start + max;
    // Step back over continuation bytes (10xxxxxx) so a character is not cut.
    while (end > start && (bytes[end]! & 0xc0) === 0x80) end--;
    // No boundary within `max` bytes: not UTF-8 at all; cut hard rather than loop forever.
    if (end === start) end = start + max;
    pieces.push(bytes.subarray(start, end));
    start = end;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Encode a nickname frame. A nickname longer than 99 bytes is cut to fit,
 * at a character boundary.
 *
 * @example
 * ```ts
 * encodeNick("Laura"); // bytes of "N05Laura"
 * ```
 */
export function encodeNick(nick: string): Uint8Array {
  return encodeFrame("N", splitUtf8(encoder.encode(nick))[0]!);
}

/**
 * Encode one line of conversation as one `L` frame, or several when it is
 * longer than 99 bytes. An empty line is one empty frame (`L00`).
 *
 * @example
 * ```ts
 * encodeLine("hello"); // bytes of "L05hello"
 * ```
 */
export function encodeLine(text: string): Uint8Array {
  return concat(splitUtf8(encoder.encode(text)).map((piece) => encodeFrame("L", piece)));
}
