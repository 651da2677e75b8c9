/**
 * End-to-end encryption between LUMI agents: the Noise state machine, the
 * conversation handshake, the counted encrypted channel, its PMI framing,
 * identity keys and the known-peers file. Pure throughout.
 *
 * @module
 */

export * from "./noise.ts";
export * from "./channel.ts";
export * from "./wire.ts";
export * from "./identity.ts";
export * from "./known_peers.ts";
export * from "./handshake.ts";
