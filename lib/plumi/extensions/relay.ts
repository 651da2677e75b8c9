/**
 * `PY` / `RY`: the relay for agents behind NAT (docs/PROTOCOL.md, "Relay").
 * An agent that cannot reach its callee directly asks its node for a relay,
 * the node tells the callee's agent, and both connect out to the node's
 * relay TCP service.
 *
 * ```
 * PY<caller>;to=<callee>              request, caller → node
 * PY<callee>;f=<caller>;r=<ip>:<port>;k=<key>   offer, node → callee
 * RY0;r=<ip>:<port>;k=<key>                     granted, node → caller
 * RY1;e=auth|off|domain|offline|full|invalid    refused
 * ```
 *
 * Keys are 16 random bytes in URL-safe base64 (22 characters): one for
 * each party, so that a key names both the session and its holder's side.
 *
 * @module
 */

import type { Endpoint } from "../address.ts";
import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import {
  addressField,
  base64Field,
  type Decoded,
  endpointField,
  fail,
  ok,
  pick,
  required,
} from "./fields.ts";
import { COUNTER, MAC } from "./session.ts";

/** The extension letter of the relay messages. */
export const RELAY_LETTER = "Y";

/** Why a relay was refused (`RY1;e=<reason>`): the `e=` codes of `RY`. */
export const RELAY_REFUSAL_CODES = ["auth", "off", "domain", "offline", "full", "invalid"] as const;

/**
 * A reason of `RY1`: `auth` the seal and source are not a session of the
 * caller's; `off` this node offers no relay; `domain` the callee is not a
 * user of this node's domain (relays are offered by the callee's node);
 * `offline` the callee is not online with an extended agent; `full` the
 * relay holds as many sessions as it may, in all or for one of the two
 * users; `invalid` the request is malformed.
 */
export type RelayRefusal = typeof RELAY_REFUSAL_CODES[number];

/** Length of a relay key in characters (16 bytes, URL-safe base64 without padding). */
export const RELAY_KEY_CHARS = 22;

/** Is `text` shaped like a relay key? */
export function isRelayKey(text: string): boolean {
  return text.length === RELAY_KEY_CHARS && KEY.read(text).ok;
}

/** `PY<caller>;to=<callee>`: the caller asks its node for a relay to `callee`. */
export interface RelayRequest {
  readonly kind: "relay-request";
  readonly caller: string;
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

/** `to=<callee>`. */
const TO = addressField("to");
/** `f=<caller>`. */
const FROM = addressField("f");
/** `r=<ip>:<port>`: the relay's TCP service. */
const RELAY = endpointField("r");
/** `k=<key>`: a party's relay key, a secret (whoever holds it joins that side). */
const KEY = base64Field("k", RELAY_KEY_CHARS, "base64", true);
const REFUSAL = errorField(RELAY_REFUSAL_CODES);

const REQUEST_KEYS = [TO.key, FROM.key, RELAY.key, KEY.key];
const REPLY_KEYS = [RELAY.key, KEY.key, REFUSAL.key];

function readKey(picked: Map<string, string>): Decoded<string> {
  const key = required(picked, KEY);
  if (!key.ok || key.value.length === RELAY_KEY_CHARS) return key;
  return fail("malformed", "k", `k= must be ${RELAY_KEY_CHARS} characters`);
}

/** The relay, `PY` / `RY`: one request type (a request or an offer) and its answer. */
export const RelayExt: ExtensionDefinition<
  RelayRequest | RelayOffer,
  RelayAnswer,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "relay for agents behind NAT",
  request: "PY",
  reply: "RY",
  fields: [COUNTER, MAC, TO, FROM, RELAY, KEY, REFUSAL],
  examples: [
    "PYana@aa.test;to=bo@aa.test",
    "PYbo@aa.test;f=ana@aa.test;r=203.0.113.1:3345;k=q1w2e3r4t5y6u7i8o9p0aZ",
    "RY0;r=203.0.113.1:3345;k=q1w2e3r4t5y6u7i8o9p0aZ",
    "RY1;e=offline",
    "RY1;e=domain",
  ],

  encodeRequest: (packet) =>
    packet.kind === "relay-request"
      ? extRequest("Y", packet.caller, [TO.write(packet.callee)])
      : extRequest("Y", packet.callee, [
        FROM.write(packet.caller),
        RELAY.write(packet.relay),
        KEY.write(packet.key),
      ]),

  decodeRequest(message): Decoded<RelayRequest | RelayOffer> {
    if (message.type !== "Y") return wrongType("PY", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    if (picked.value.has(TO.key)) {
      const to = required(picked.value, TO);
      if (!to.ok) return to;
      return ok({
        kind: "relay-request",
        caller: message.address,
        callee: to.value,
      });
    }
    const from = required(picked.value, FROM);
    if (!from.ok) return from;
    const relay = required(picked.value, RELAY);
    if (!relay.ok) return relay;
    const key = readKey(picked.value);
    if (!key.ok) return key;
    return ok({
      kind: "relay-offer",
      callee: message.address,
      caller: from.value,
      relay: relay.value,
      key: key.value,
    });
  },

  encodeReply: (answer) =>
    answer.kind === "relay-granted"
      ? extReply("Y", 0, [RELAY.write(answer.relay), KEY.write(answer.key)])
      : extReply("Y", 1, answer.reason === "unknown" ? [] : [REFUSAL.write(answer.reason)]),

  decodeReply(message): Decoded<RelayAnswer> {
    if (message.type !== "Y") return wrongType("RY", `R${message.type}`);
    const picked = pick(message.params, REPLY_KEYS);
    if (!picked.ok) return picked;
    if (message.code === 0) {
      const relay = required(picked.value, RELAY);
      if (!relay.ok) return relay;
      const key = readKey(picked.value);
      if (!key.ok) return key;
      return ok({ kind: "relay-granted", relay: relay.value, key: key.value });
    }
    if (message.code !== 1) {
      return fail("unknown-code", "code", `RY${message.code} is not an answer`);
    }
    const reason = required(picked.value, REFUSAL);
    return reason.ok ? ok({ kind: "relay-refused", reason: reason.value }) : reason;
  },
};

/** Encode a request as the packet `PY…` (a PLUMI extension request). */
export function encodeRelayRequest(request: RelayRequest): ExtensionRequest {
  return RelayExt.encodeRequest(request);
}

/** Encode an offer as the packet `PY…`. */
export function encodeRelayOffer(offer: RelayOffer): ExtensionRequest {
  return RelayExt.encodeRequest(offer);
}

/** Encode an answer as the packet `RY…`. */
export function encodeRelayAnswer(answer: RelayAnswer): ExtensionReply {
  return RelayExt.encodeReply(answer);
}

/**
 * A `PY` packet as what it is: a request (it has `t` and `to`), an offer (it
 * has `f`, `r` and `k`), or `undefined` when it is neither (malformed: the
 * receiver counts it and drops it).
 */
export function decodeRelayPacket(
  message: ExtensionRequest,
): RelayRequest | RelayOffer | undefined {
  const decoded = RelayExt.decodeRequest(message);
  return decoded.ok ? decoded.value : undefined;
}

/**
 * An `RY` packet as an answer, or `undefined` when a grant is malformed; a
 * refusal whose reason cannot be read is a refusal for an `unknown` reason.
 */
export function decodeRelayAnswer(message: ExtensionReply): RelayAnswer | undefined {
  const decoded = RelayExt.decodeReply(message);
  if (decoded.ok) return decoded.value;
  return message.type === "Y" && message.code !== 0
    ? { kind: "relay-refused", reason: "unknown" }
    : undefined;
}
