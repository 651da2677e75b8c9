/**
 * The handshake of an encrypted conversation, as the agent drives it:
 * `Noise_XX_25519_ChaChaPoly_SHA256` with the users' identity keys as static
 * keys, a prologue that binds both nicknames, and each side's @MI address as
 * the encrypted payload of its `s` message. Whoever reads an address here knows
 * only that the key on the other side claims it: the caller of `finish()`
 * checks the key against its pins and the node's word.
 *
 * Pure: messages in, messages out.
 *
 * @module
 */

import { SecureChannel } from "./channel.ts";
import { HandshakeState, type KeyPair, NoiseError } from "./noise.ts";

/** The first message's payload: the version of this channel. */
export const CHANNEL_VERSION = "LUMI-E2E/1";

/** How to start. */
export interface ChannelHandshakeOptions {
  /** Whether this side placed the call (it sends the first message). */
  readonly initiator: boolean;
  /** This user's identity key pair. */
  readonly identity: KeyPair;
  /** This user's @MI address, sent encrypted to the peer. */
  readonly address: string;
  /** Bytes both sides must agree on; see {@linkcode conversationPrologue}. */
  readonly prologue: Uint8Array;
}

/** A finished handshake. */
export interface ChannelEstablished {
  readonly kind: "established";
  /** The last handshake message to send, if this side writes it (the initiator). */
  readonly send: Uint8Array | undefined;
  readonly channel: SecureChannel;
  /** The address the peer's key claims. */
  readonly peerAddress: string;
  /** The peer's identity key, as proved by the handshake. */
  readonly peerKey: Uint8Array;
  /** The handshake hash (identical on both sides). */
  readonly handshakeHash: Uint8Array;
}

/** What reading a handshake message gives. */
export type HandshakeStep =
  | { readonly kind: "send"; readonly send: Uint8Array }
  | ChannelEstablished
  | { readonly kind: "error"; readonly reason: string };

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The prologue of a conversation: a label and both nicknames, caller's first. */
export function conversationPrologue(callerNick: string, calleeNick: string): Uint8Array {
  return encoder.encode(`LUMI-PMI-E2E/1\n${callerNick}\n${calleeNick}`);
}

/** One side of the handshake. */
export class ChannelHandshake {
  readonly #state: HandshakeState;
  readonly #options: ChannelHandshakeOptions;
  #peerAddress: string | undefined;

  /** Prepare one side. */
  constructor(options: ChannelHandshakeOptions) {
    this.#options = options;
    this.#state = new HandshakeState({
      pattern: "XX",
      initiator: options.initiator,
      prologue: options.prologue,
      staticKeys: options.identity,
    });
  }

  /** The initiator's first message (`→ e`, with the version). */
  start(): Promise<Uint8Array> {
    return this.#state.writeMessage(encoder.encode(CHANNEL_VERSION));
  }

  /** Read the peer's next handshake message. */
  async receive(message: Uint8Array): Promise<HandshakeStep> {
    try {
      return await this.#receive(message);
    } catch (error) {
      if (!(error instanceof NoiseError)) throw error;
      return { kind: "error", reason: `the encrypted-channel handshake failed: ${error.message}` };
    }
  }

  async #receive(message: Uint8Array): Promise<HandshakeStep> {
    const payload = await this.#state.readMessage(message);
    const text = decodeText(payload);
    if (text === undefined) return { kind: "error", reason: "a handshake payload is not text" };
    const address = encoder.encode(this.#options.address);
    if (this.#options.initiator) {
      // ← e, ee, s, es: the responder's address; answer → s, se with ours.
      this.#peerAddress = text;
      const send = await this.#state.writeMessage(address);
      return this.#established(send);
    }
    if (this.#state.result === undefined) {
      // → e: the version; answer ← e, ee, s, es with our address.
      if (text !== CHANNEL_VERSION) {
        return {
          kind: "error",
          reason: `the peer speaks ${JSON.stringify(text)}, not ${CHANNEL_VERSION}`,
        };
      }
      return { kind: "send", send: await this.#state.writeMessage(address) };
    }
    this.#peerAddress = text;
    return this.#established(undefined);
  }

  #established(send: Uint8Array | undefined): HandshakeStep {
    const result = this.#state.result;
    if (result === undefined || result.remoteStatic === undefined) {
      return { kind: "error", reason: "the handshake did not finish" };
    }
    return {
      kind: "established",
      send,
      channel: new SecureChannel(result.send, result.receive),
      peerAddress: this.#peerAddress!,
      peerKey: result.remoteStatic,
      handshakeHash: result.handshakeHash,
    };
  }
}

function decodeText(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}
