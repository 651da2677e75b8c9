/**
 * Streaming PMI decoder: feed it TCP chunks of any size, split anywhere, and
 * it returns the whole frames they complete.
 *
 * @module
 */

import type { PmiFrame } from "./frame.ts";

/** Why a byte stream is not valid PMI. */
export type PmiErrorKind = "bad-type" | "bad-length";

/** A stream error. After one, the decoder accepts nothing more: close the connection. */
export class PmiStreamError extends Error {
  /** What was wrong. */
  readonly kind: PmiErrorKind;
  /** Offset of the offending byte in the whole stream. */
  readonly offset: number;

  constructor(kind: PmiErrorKind, offset: number, message: string) {
    super(message);
    this.name = "PmiStreamError";
    this.kind = kind;
    this.offset = offset;
  }
}

/** Options of {@linkcode PmiDecoder}. */
export interface PmiDecoderOptions {
  /** Frame types accepted besides `N` and `L` (negotiated extensions). Default: none. */
  readonly extensionTypes?: string;
}

/** The result of {@linkcode PmiDecoder.push}: frames completed, and an error if the stream went bad. */
export interface PushResult {
  readonly frames: PmiFrame[];
  readonly error?: PmiStreamError;
}

const textDecoder = new TextDecoder();

function describe(byte: number): string {
  return byte >= 0x20 && byte < 0x7f
    ? `"${String.fromCharCode(byte)}"`
    : `0x${byte.toString(16).padStart(2, "0")}`;
}

/**
 * Decodes a PMI byte stream frame by frame.
 *
 * @example
 * ```ts
 * const decoder = new PmiDecoder();
 * decoder.push(new TextEncoder().encode("N05Lau")); // { frames: [] }
 * decoder.push(new TextEncoder().encode("raL02hi")); // two frames: nick "Laura", line "hi"
 * ```
 */
export class PmiDecoder {
  #accepted: string;
  #header = new Uint8Array(3);
  #headerLength = 0;
  #info: Uint8Array | null = null;
  #infoLength = 0;
  #consumed = 0;
  #error: PmiStreamError | undefined;

  constructor(options: PmiDecoderOptions = {}) {
    this.#accepted = `NL${options.extensionTypes ?? ""}`;
  }

  /** The error that stopped the stream, if any. */
  get error(): PmiStreamError | undefined {
    return this.#error;
  }

  /** Bytes of an unfinished frame held back, waiting for more. */
  get pendingBytes(): number {
    return this.#headerLength + this.#infoLength;
  }

  /** Feed the next chunk of the stream. */
  push(chunk: Uint8Array): PushResult {
    const frames: PmiFrame[] = [];
    if (this.#error) return { frames, error: this.#error };
    const base = this.#consumed;
    this.#consumed += chunk.length;
    let i = 0;
    while (i < chunk.length) {
      if (this.#info === null) {
        const byte = chunk[i]!;
        const position = this.#headerLength;
        if (position === 0 && !this.#accepted.includes(String.fromCharCode(byte))) {
          return this.#fail(frames, "bad-type", `unknown frame type ${describe(byte)}`, base + i);
        }
        if (position > 0 && (byte < 0x30 || byte > 0x39)) {
          return this.#fail(
            frames,
            "bad-length",
            `frame length digit is ${describe(byte)}, not 0-9`,
            base + i,
          );
        }
        this.#header[position] = byte;
        this.#headerLength++;
        i++;
        if (this.#headerLength === 3) {
          const length = (this.#header[1]! - 0x30) * 10 + (this.#header[2]! - 0x30);
          this.#info = new Uint8Array(length);
          this.#infoLength = 0;
        }
      } else {
        const take = Math.min(this.#info.length - this.#infoLength, chunk.length - i);
        this.#info.set(chunk.subarray(i, i + take), this.#infoLength);
        this.#infoLength += take;
        i += take;
      }
      if (this.#info !== null && this.#infoLength === this.#info.length) {
        frames.push(this.#frame(String.fromCharCode(this.#header[0]!), this.#info));
        this.#info = null;
        this.#headerLength = 0;
        this.#infoLength = 0;
      }
    }
    return { frames };
  }

  #frame(type: string, info: Uint8Array): PmiFrame {
    if (type === "N") return { kind: "nick", text: textDecoder.decode(info) };
    if (type === "L") return { kind: "line", text: textDecoder.decode(info) };
    return { kind: "extension", type, info };
  }

  #fail(frames: PmiFrame[], kind: PmiErrorKind, message: string, offset: number): PushResult {
    this.#error = new PmiStreamError(kind, offset, `Bad PMI stream at byte ${offset}: ${message}`);
    return { frames, error: this.#error };
  }
}
