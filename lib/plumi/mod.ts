/**
 * PLUMI, the UDP locator protocol between agents and nodes: messages, codec
 * and @MI address parsing. Pure; never touches the network.
 *
 * @module
 */

export * from "./address.ts";
export * from "./messages.ts";
export * from "./codec.ts";
export * from "./params.ts";
