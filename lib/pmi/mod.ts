/**
 * PMI, the TCP chat protocol between two agents: frames, encoders and a
 * streaming decoder. Pure; never touches the network.
 *
 * @module
 */

export * from "./frame.ts";
export * from "./decoder.ts";
