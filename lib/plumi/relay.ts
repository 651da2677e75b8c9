/**
 * The relay extension (`v=2`, letter `Y`): an agent that cannot reach its
 * callee directly asks its node for a relay, the node tells the callee's
 * agent, and both connect out to the node's relay TCP service. One
 * definition of the three messages, pure (docs/PROTOCOL.md, "Relay"):
 *
 * - request, caller → node: `PY<caller>;t=<token>;to=<callee>`
 * - offer, node → callee:   `PY<callee>;f=<caller>;r=<ip>:<port>;k=<key>`
 * - answer, node → caller:  `RY0;r=<ip>:<port>;k=<key>` or `RY1;e=<reason>`
 *
 * Keys are 16 random bytes in URL-safe base64 (22 characters): one for
 * each party, so that a key names both the session and its holder's side.
 *
 * @module
 */

import { type Endpoint, formatEndpoint, parseAddress, parseEndpoint } from "./address.ts";
import type { ExtensionReply, ExtensionRequest } from "./messages.ts";
import { param } from "./params.ts";

/** The extension letter of the relay messages. */
export const RELAY_LETTER = "Y";

/** Why a relay was refused (`RY1;e=<reason>`), with what each means. */
export const RELAY_REFUSALS = {
  /** The request's token and source are not a session of the caller's. */
  auth: "auth",
  /** This node offers no relay. */
  off: "off",
  /** The callee is not a user of this node's domain (relays are offered by the callee's node). */
  domain: "domain",
  /** The callee is not online with an extended agent (it could not hear the offer). */
  offline: "offline",
  /** The relay holds as many sessions as it may, in all or for one of the two users. */
  full: "full",
  /** The request is malformed (no `to`, a bad address, the caller itself). */
  invalid: "invalid",
} as const;

/** A reason of `RY1`. */
export type RelayRefusal = typeof RELAY_REFUSALS[keyof typeof RELAY_REFUSALS];

/** Length of a relay key in characters (16 bytes, URL-safe base64 without padding). */
export const RELAY_KEY_CHARS = 22;

const KEY_PATTERN = /^[A-Za-z0-9_-]{22}$/;

/** Is `text` shaped like a relay key? */
export function isRelayKey(text: string): boolean {
  return KEY_PATTERN.test(text);
}

/** `PY<caller>;t=<token>;to=<callee>`: the caller asks its node for a relay to `callee`. */
export interface RelayRequest {
  readonly kind: "relay-request";
  readonly caller: string;
  /** The caller's session token. */
  readonly token: string;
  readonly callee: string;
}

/** `PY<callee>;f=<caller>;r=<ip>:<port>;k=<key>`: the node tells the callee to meet `caller`. */
export interface RelayOffer {
  readonly kind: "relay-offer";
  readonly callee: string;
  readonly caller: string;
  /** The relay's TCP endpoint. */
  readonly relay: Endpoint;
  /** The callee's key. */
  readonly key: string;
}

/** `RY0;r=<ip>:<port>;k=<key>` or `RY1;e=<reason>`: the node's answer to the caller. */
export type RelayAnswer =
  | { readonly kind: "relay-granted"; readonly relay: Endpoint; readonly key: string }
  | { readonly kind: "relay-refused"; readonly reason: RelayRefusal | "unknown" };

/** Encode a request as the packet `PY…` (a PLUMI extension request). */
export function encodeRelayRequest(request: RelayRequest): ExtensionRequest {
  return {
    kind: "ext-request",
    type: RELAY_LETTER,
    address: request.caller,
    params: [`t=${request.token}`, `to=${request.callee}`],
  };
}

/** Encode an offer as the packet `PY…`. */
export function encodeRelayOffer(offer: RelayOffer): ExtensionRequest {
  return {
    kind: "ext-request",
    type: RELAY_LETTER,
    address: offer.callee,
    params: [`f=${offer.caller}`, `r=${formatEndpoint(offer.relay)}`, `k=${offer.key}`],
  };
}

/** Encode an answer as the packet `RY…`. */
export function encodeRelayAnswer(answer: RelayAnswer): ExtensionReply {
  return answer.kind === "relay-granted"
    ? {
      kind: "ext-reply",
      type: RELAY_LETTER,
      code: 0,
      params: [`r=${formatEndpoint(answer.relay)}`, `k=${answer.key}`],
    }
    : { kind: "ext-reply", type: RELAY_LETTER, code: 1, params: [`e=${answer.reason}`] };
}

function validAddress(text: string | undefined): text is string {
  return text !== undefined && parseAddress(text).ok;
}

/**
 * A `PY` packet as what it is: a request (it has `t` and `to`), an offer (it
 * has `f`, `r` and `k`), or `undefined` when it is neither (malformed: the
 * receiver counts it and drops it).
 */
export function decodeRelayPacket(
  message: ExtensionRequest,
): RelayRequest | RelayOffer | undefined {
  if (message.type !== RELAY_LETTER) return undefined;
  const token = param(message.params, "t");
  const to = param(message.params, "to");
  if (token !== undefined && token !== "") {
    if (!validAddress(to)) return undefined;
    return { kind: "relay-request", caller: message.address, token, callee: to };
  }
  const from = param(message.params, "f");
  const relay = parseEndpoint(param(message.params, "r") ?? "");
  const key = param(message.params, "k") ?? "";
  if (!validAddress(from) || !relay.ok || !isRelayKey(key)) return undefined;
  return { kind: "relay-offer", callee: message.address, caller: from, relay: relay.value, key };
}

/** An `RY` packet as an answer, or `undefined` when malformed. */
export function decodeRelayAnswer(message: ExtensionReply): RelayAnswer | undefined {
  if (message.type !== RELAY_LETTER) return undefined;
  if (message.code === 0) {
    const relay = parseEndpoint(param(message.params, "r") ?? "");
    const key = param(message.params, "k") ?? "";
    if (!relay.ok || !isRelayKey(key)) return undefined;
    return { kind: "relay-granted", relay: relay.value, key };
  }
  const e = param(message.params, "e") ?? "";
  const known = Object.values(RELAY_REFUSALS) as string[];
  return { kind: "relay-refused", reason: known.includes(e) ? e as RelayRefusal : "unknown" };
}
