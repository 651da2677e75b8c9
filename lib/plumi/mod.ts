/**
 * PLUMI, the UDP locator protocol between agents and nodes: messages, codec
 * and @MI address parsing, and the typed definitions of the `v=2` extension
 * messages (`extensions/`: one per message, see its module docs for how to
 * add one). Pure; never touches the network.
 *
 * @module
 */

export * from "./address.ts";
export * from "./messages.ts";
export * from "./codec.ts";
export * from "./params.ts";
export * from "./extensions/mod.ts";
