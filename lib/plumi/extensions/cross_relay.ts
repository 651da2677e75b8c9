/**
 * `PJ` / `RJ`: a relay across domains, node to node (docs/PROTOCOL.md, "Relay
 * for agents behind NAT"). A caller asks its own node for a relay (`PY`) to a
 * callee of another domain; its node, which checked the caller's session,
 * passes the request on to the callee's node with `PJ`; that node offers its
 * relay to the callee (the usual `PY` offer) and answers with the caller's
 * key, which the caller's node passes on as `RY0`.
 *
 * ```
 * PJana@aa.test;to=bo@bb.test;n=<nonce>;x=<padding>           caller's node → callee's node
 * RJ0;to=bo@bb.test;n=<nonce>;r=<ip>:<port>;k=<key>           granted: the relay and the caller's key
 * RJ1;to=bo@bb.test;n=<nonce>;e=off|offline|full|invalid      refused
 * ```
 *
 * The callee's node accepts `PJ` only from the node of the caller's domain;
 * the caller's node accepts `RJ` only from the node of the callee's domain,
 * and only with the nonce of a request it sent (16 random bytes). The request
 * is padded so that its answer is never longer (amplification rule).
 *
 * @module
 */

import type { Endpoint } from "../address.ts";
import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { formatPlumi } from "../codec.ts";
import { type ExtensionDefinition, extReply, paddedRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import {
  addressField,
  base64Field,
  type Decoded,
  endpointField,
  fail,
  ok,
  PADDING,
  pick,
  required,
} from "./fields.ts";
import { RELAY_KEY_CHARS, type RelayRefusal } from "./relay.ts";
import { QUERY_NONCE_CHARS } from "./vouch.ts";

/** The reasons the callee's node may give in `RJ1` (a subset of `RY1`'s, passed on as they are). */
export const CROSS_RELAY_REFUSALS = [
  "off",
  "offline",
  "full",
  "invalid",
] as const satisfies readonly RelayRefusal[];

/** A reason of `RJ1`. */
export type CrossRelayRefusal = typeof CROSS_RELAY_REFUSALS[number];

/** `PJ<caller>;to=<callee>;n=<nonce>`: a caller's node asks the callee's node for a relay. */
export interface CrossRelayRequest {
  readonly caller: string;
  readonly callee: string;
  readonly nonce: string;
}

/** The callee's node's answer. */
export type CrossRelayAnswer =
  | {
    readonly kind: "granted";
    readonly callee: string;
    readonly nonce: string;
    readonly relay: Endpoint;
    /** The caller's key. */
    readonly key: string;
  }
  | {
    readonly kind: "refused";
    readonly callee: string;
    readonly nonce: string;
    readonly reason: CrossRelayRefusal;
  };

const TO = addressField("to");
const NONCE = base64Field("n", QUERY_NONCE_CHARS);
const RELAY = endpointField("r");
const KEY = base64Field("k", RELAY_KEY_CHARS, "base64", true);
const REFUSAL = errorField(CROSS_RELAY_REFUSALS);
const REQUEST_KEYS = [TO.key, NONCE.key];
const REPLY_KEYS = [TO.key, NONCE.key, RELAY.key, KEY.key, REFUSAL.key];

function exactly(picked: Map<string, string>, field: typeof NONCE, chars: number) {
  const value = required(picked, field);
  if (!value.ok || value.value.length === chars) return value;
  return fail("malformed", field.key, `${field.key}= must be ${chars} characters`);
}

/** The longest answer to a request for `callee`: what the request is padded to. */
function longestAnswer(callee: string): number {
  return formatPlumi(
    extReply("J", 0, [
      TO.write(callee),
      NONCE.write("-".repeat(QUERY_NONCE_CHARS)),
      RELAY.write({ ip: "255.255.255.255", port: 65535 }),
      KEY.write("-".repeat(RELAY_KEY_CHARS)),
    ]),
  ).length;
}

/** The relay across domains between nodes, `PJ` / `RJ`. */
export const CrossRelayExt: ExtensionDefinition<
  CrossRelayRequest,
  CrossRelayAnswer,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "relay across domains between nodes",
  request: "PJ",
  reply: "RJ",
  fields: [TO, NONCE, PADDING, RELAY, KEY, REFUSAL],
  examples: [
    "PJana@aa.test;to=bo@bb.test;n=q1w2e3r4t5y6u7i8o9p0aZ;x=" + "-".repeat(36),
    "RJ0;to=bo@bb.test;n=q1w2e3r4t5y6u7i8o9p0aZ;r=203.0.113.1:3345;k=Hd7Jm2Kp9Qx4Rz1Tv6Wb3Y",
    "RJ1;to=bo@bb.test;n=q1w2e3r4t5y6u7i8o9p0aZ;e=offline",
  ],

  encodeRequest({ caller, callee, nonce }) {
    return paddedRequest(
      "J",
      caller,
      [TO.write(callee), NONCE.write(nonce)],
      longestAnswer(callee),
    );
  },

  decodeRequest(message): Decoded<CrossRelayRequest> {
    if (message.type !== "J") return wrongType("PJ", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    const callee = required(picked.value, TO);
    if (!callee.ok) return callee;
    const nonce = exactly(picked.value, NONCE, QUERY_NONCE_CHARS);
    if (!nonce.ok) return nonce;
    return ok({ caller: message.address, callee: callee.value, nonce: nonce.value });
  },

  encodeReply: (answer) =>
    answer.kind === "granted"
      ? extReply("J", 0, [
        TO.write(answer.callee),
        NONCE.write(answer.nonce),
        RELAY.write(answer.relay),
        KEY.write(answer.key),
      ])
      : extReply("J", 1, [
        TO.write(answer.callee),
        NONCE.write(answer.nonce),
        REFUSAL.write(answer.reason),
      ]),

  decodeReply(message): Decoded<CrossRelayAnswer> {
    if (message.type !== "J") return wrongType("RJ", `R${message.type}`);
    if (message.code !== 0 && message.code !== 1) {
      return fail("unknown-code", "code", `RJ${message.code} is not an answer`);
    }
    const picked = pick(message.params, REPLY_KEYS);
    if (!picked.ok) return picked;
    const callee = required(picked.value, TO);
    if (!callee.ok) return callee;
    const nonce = exactly(picked.value, NONCE, QUERY_NONCE_CHARS);
    if (!nonce.ok) return nonce;
    const base = { callee: callee.value, nonce: nonce.value };
    if (message.code === 1) {
      const reason = required(picked.value, REFUSAL);
      return reason.ok ? ok({ kind: "refused", ...base, reason: reason.value }) : reason;
    }
    const relay = required(picked.value, RELAY);
    if (!relay.ok) return relay;
    const key = exactly(picked.value, KEY, RELAY_KEY_CHARS);
    if (!key.ok) return key;
    return ok({ kind: "granted", ...base, relay: relay.value, key: key.value });
  },
};
