/**
 * `PV` / `RV`: one node asks another domain's node which identity key it
 * vouches for one of its users (docs/PROTOCOL.md, "Identity keys"). An agent
 * asks its own node (`PI…;w=<address>`); for an address of another domain
 * that node asks the address's node with `PV` and passes the key it is told
 * on as `RI0`.
 *
 * ```
 * PVjoan@cc.com;w=laura@bb.com;n=<nonce>;x=<padding>   which key do you vouch for at joan@cc.com?
 * RV0;n=<nonce>;b=joan@cc.com;ik=<key>                 this one
 * RV2;n=<nonce>;b=joan@cc.com                          none
 * ```
 *
 * `w=` is the asking user: the answering node checks that the query comes
 * from the node of its domain. `n=` is 16 random bytes the answer must give
 * back, so that an off-path stranger who spoofs the answering node's address
 * cannot make up an answer. The query is padded so that its answer is never
 * longer (amplification rule).
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { formatPlumi } from "../codec.ts";
import { type ExtensionDefinition, extReply, paddedRequest, wrongType } from "./definition.ts";
import {
  addressField,
  base64Field,
  type Decoded,
  fail,
  ok,
  PADDING,
  pick,
  required,
} from "./fields.ts";
import { IDENTITY_KEY_CHARS } from "./identity.ts";

/** Characters of a query nonce (16 bytes, URL-safe base64 without padding). */
export const QUERY_NONCE_CHARS = 22;

/** A vouch query between nodes: which key does the asked node vouch for at `who`? */
export interface VouchQuery {
  /** A user of the asked node's domain. */
  readonly who: string;
  /** The asking node's user who wants to know. */
  readonly asker: string;
  /** Given back in the answer. */
  readonly nonce: string;
}

/** The asked node's answer: the key it vouches for, or none. */
export type VouchAnswer =
  | { readonly kind: "vouched"; readonly nonce: string; readonly who: string; readonly key: string }
  | { readonly kind: "none"; readonly nonce: string; readonly who: string };

const ASKER = addressField("w");
const WHO = addressField("b");
const NONCE = base64Field("n", QUERY_NONCE_CHARS);
const KEY = base64Field("ik", IDENTITY_KEY_CHARS);
const REQUEST_KEYS = [ASKER.key, NONCE.key];
const REPLY_KEYS = [NONCE.key, WHO.key, KEY.key];

/** A field of exactly `chars` characters. */
function exactly(picked: Map<string, string>, field: typeof NONCE, chars: number) {
  const value = required(picked, field);
  if (!value.ok || value.value.length === chars) return value;
  return fail("malformed", field.key, `${field.key}= must be ${chars} characters`);
}

/** The longest answer to a query for `who`: what the query is padded to. */
function longestAnswer(who: string): number {
  return formatPlumi(
    extReply("V", 0, [
      NONCE.write("-".repeat(QUERY_NONCE_CHARS)),
      WHO.write(who),
      KEY.write("-".repeat(IDENTITY_KEY_CHARS)),
    ]),
  ).length;
}

/** The vouch query between nodes, `PV` / `RV`. */
export const VouchExt: ExtensionDefinition<
  VouchQuery,
  VouchAnswer,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "vouch query between nodes",
  request: "PV",
  reply: "RV",
  fields: [ASKER, NONCE, PADDING, WHO, KEY],
  examples: [
    "PVjoan@cc.com;w=laura@bb.com;n=q1w2e3r4t5y6u7i8o9p0aZ;x=" + "-".repeat(33),
    "RV0;n=q1w2e3r4t5y6u7i8o9p0aZ;b=joan@cc.com;ik=KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK",
    "RV2;n=q1w2e3r4t5y6u7i8o9p0aZ;b=joan@cc.com",
  ],

  encodeRequest({ who, asker, nonce }) {
    return paddedRequest("V", who, [ASKER.write(asker), NONCE.write(nonce)], longestAnswer(who));
  },

  decodeRequest(message): Decoded<VouchQuery> {
    if (message.type !== "V") return wrongType("PV", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    const asker = required(picked.value, ASKER);
    if (!asker.ok) return asker;
    const nonce = exactly(picked.value, NONCE, QUERY_NONCE_CHARS);
    if (!nonce.ok) return nonce;
    return ok({ who: message.address, asker: asker.value, nonce: nonce.value });
  },

  encodeReply: (answer) =>
    answer.kind === "vouched"
      ? extReply("V", 0, [NONCE.write(answer.nonce), WHO.write(answer.who), KEY.write(answer.key)])
      : extReply("V", 2, [NONCE.write(answer.nonce), WHO.write(answer.who)]),

  decodeReply(message): Decoded<VouchAnswer> {
    if (message.type !== "V") return wrongType("RV", `R${message.type}`);
    if (message.code !== 0 && message.code !== 2) {
      return fail("unknown-code", "code", `RV${message.code} is not an answer`);
    }
    const picked = pick(message.params, REPLY_KEYS);
    if (!picked.ok) return picked;
    const nonce = exactly(picked.value, NONCE, QUERY_NONCE_CHARS);
    if (!nonce.ok) return nonce;
    const who = required(picked.value, WHO);
    if (!who.ok) return who;
    if (message.code === 2) return ok({ kind: "none", nonce: nonce.value, who: who.value });
    const key = exactly(picked.value, KEY, IDENTITY_KEY_CHARS);
    if (!key.ok) return key;
    return ok({ kind: "vouched", nonce: nonce.value, who: who.value, key: key.value });
  },
};
