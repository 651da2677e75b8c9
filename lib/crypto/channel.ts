/**
 * The encrypted channel after a Noise handshake: every record is sealed with
 * ChaCha20-Poly1305 under the handshake's transport keys, and carries its
 * counter in clear (8 bytes, big-endian) so that the receiver can say *why* a
 * record is refused: replayed (or reordered), one missing before it (dropped),
 * or changed (tampered). The counter is the AEAD nonce, so it is authenticated.
 *
 * Pure: bytes in, bytes out.
 *
 * @module
 */

import { type CipherState, NoiseError } from "./noise.ts";

/** Bytes of the clear counter in front of each sealed record. */
export const COUNTER_BYTES = 8;

/** Why a received record was refused; the channel is then finished. */
export type ChannelFault = "replayed" | "dropped" | "tampered" | "short";

/** The reason of each fault, in the user's terms. */
export const CHANNEL_FAULTS: Readonly<Record<ChannelFault, string>> = {
  replayed: "a frame came again or out of order (replayed)",
  dropped: "a frame is missing (dropped or reordered on the way)",
  tampered: "a frame was changed on the way (it did not authenticate)",
  short: "a frame was too short to be an encrypted record",
};

/** What opening a record gives: its plaintext, or the fault that ends the channel. */
export type OpenResult =
  | { readonly ok: true; readonly plaintext: Uint8Array }
  | { readonly ok: false; readonly fault: ChannelFault; readonly reason: string };

const NO_AD = new Uint8Array(0);

/** One direction pair of transport keys with counters. */
export class SecureChannel {
  readonly #send: CipherState;
  readonly #receive: CipherState;
  #failed: ChannelFault | undefined;

  /** A channel from a finished handshake's cipher states. */
  constructor(send: CipherState, receive: CipherState) {
    this.#send = send;
    this.#receive = receive;
  }

  /** The fault that ended the channel, if any: nothing more is opened after it. */
  get failed(): ChannelFault | undefined {
    return this.#failed;
  }

  /** Seal one record: counter, then ciphertext and tag. */
  seal(plaintext: Uint8Array): Uint8Array {
    const counter = this.#send.nonce;
    const sealed = this.#send.encryptWithAd(NO_AD, plaintext);
    const out = new Uint8Array(COUNTER_BYTES + sealed.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(counter));
    out.set(sealed, COUNTER_BYTES);
    return out;
  }

  /** Open one record; any fault finishes the channel. */
  open(record: Uint8Array): OpenResult {
    if (this.#failed !== undefined) return this.#fault(this.#failed);
    if (record.length < COUNTER_BYTES + 16) return this.#fault("short");
    const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
    const counter = view.getBigUint64(0);
    const expected = BigInt(this.#receive.nonce);
    const body = record.subarray(COUNTER_BYTES);
    if (counter === expected) {
      try {
        return { ok: true, plaintext: this.#receive.decryptWithAd(NO_AD, body) };
      } catch (error) {
        if (!(error instanceof NoiseError)) throw error;
        return this.#fault("tampered");
      }
    }
    // Not the awaited counter: it is a replay (lower) or follows a loss (higher)
    // only if it authenticates under its own counter; otherwise it was changed.
    if (counter > BigInt(Number.MAX_SAFE_INTEGER)) return this.#fault("tampered");
    const next = this.#receive.nonce;
    this.#receive.setNonce(Number(counter));
    let genuine = true;
    try {
      this.#receive.decryptWithAd(NO_AD, body);
    } catch {
      genuine = false;
    }
    this.#receive.setNonce(next);
    if (!genuine) return this.#fault("tampered");
    return this.#fault(counter < expected ? "replayed" : "dropped");
  }

  #fault(fault: ChannelFault): OpenResult {
    this.#failed = fault;
    return { ok: false, fault, reason: CHANNEL_FAULTS[fault] };
  }
}
