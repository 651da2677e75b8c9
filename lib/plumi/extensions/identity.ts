/**
 * `PI` / `RI`: identity keys (docs/PROTOCOL.md, "Identity keys"). After
 * logging in, an agent publishes its public key; the node binds it to a
 * password account and vouches for it when another agent of its domain asks.
 *
 * ```
 * PIlaura@bb.com;ik=<key>[;replace]   publish (replace: a new key for a bound account)
 * PIlaura@bb.com;w=<address>          which key does the node vouch for at <address>?
 * RI0                                           published (bound)
 * RI0;w=<address>;ik=<key>                      vouched for
 * RI2;w=<address>                               no key vouched for at that address
 * RI1;e=auth|invalid|nopass|changed|store       refused
 * ```
 *
 * A key is 32 bytes in URL-safe base64 without padding: 43 characters.
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import {
  addressField,
  base64Field,
  type Decoded,
  fail,
  flagField,
  ok,
  optional,
  pick,
  type Picked,
  required,
} from "./fields.ts";
import { COUNTER, MAC } from "./session.ts";

/** Characters of an identity key (32 bytes, URL-safe base64 without padding). */
export const IDENTITY_KEY_CHARS = 43;

/** The `e=` codes of `RI1`. */
export const IDENTITY_ERRORS = ["auth", "invalid", "nopass", "changed", "store"] as const;

/** Why the node refused an identity request. */
export type IdentityError = typeof IDENTITY_ERRORS[number];

/** An identity request: publish our key, or ask for the key of `who`. */
export type IdentityRequest =
  | {
    readonly kind: "publish";
    readonly address: string;
    readonly key: string;
    /** Replace the key bound to the account (only its holder can: its session came from a proof). */
    readonly replace: boolean;
  }
  | {
    readonly kind: "vouch";
    readonly address: string;
    readonly who: string;
  };

/** The node's answer to an identity request. */
export type IdentityReply =
  | { readonly kind: "bound" }
  | { readonly kind: "vouched"; readonly who: string; readonly key: string }
  | { readonly kind: "none"; readonly who: string }
  | { readonly kind: "refused"; readonly error: IdentityError };

/** `ik=<key>`. */
const KEY = base64Field("ik", IDENTITY_KEY_CHARS);
/** `w=<address>`: whose key. */
const WHO = addressField("w");
const REPLACE = flagField("replace");
const ERROR = errorField(IDENTITY_ERRORS);

const REQUEST_KEYS = [KEY.key, WHO.key, REPLACE.key];
const REPLY_KEYS = [WHO.key, KEY.key, ERROR.key];

/** `ik=` read, exactly a key's length. */
function readKey(picked: Picked): Decoded<string> {
  const key = required(picked, KEY);
  if (!key.ok || key.value.length === IDENTITY_KEY_CHARS) return key;
  return fail("malformed", KEY.key, `ik= must be ${IDENTITY_KEY_CHARS} characters`);
}

/** Identity keys, `PI` / `RI`. */
export const IdentityExt: ExtensionDefinition<
  IdentityRequest,
  IdentityReply,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "identity keys",
  request: "PI",
  reply: "RI",
  fields: [COUNTER, MAC, KEY, WHO, REPLACE, ERROR],
  examples: [
    "PIlaura@bb.com;ik=KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK",
    "PIlaura@bb.com;ik=KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK;replace",
    "PIlaura@bb.com;w=joan@bb.com",
    "RI0",
    "RI0;w=joan@bb.com;ik=KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK",
    "RI2;w=joan@bb.com",
    "RI1;e=changed",
  ],

  encodeRequest: (request) =>
    request.kind === "publish"
      ? extRequest("I", request.address, [
        KEY.write(request.key),
        ...(request.replace ? [REPLACE.write(true)] : []),
      ])
      : extRequest("I", request.address, [WHO.write(request.who)]),

  decodeRequest(message): Decoded<IdentityRequest> {
    if (message.type !== "I") return wrongType("PI", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    const base = { address: message.address };
    if (picked.value.has(KEY.key)) {
      const key = readKey(picked.value);
      if (!key.ok) return key;
      const replace = optional(picked.value, REPLACE);
      if (!replace.ok) return replace;
      return ok({ kind: "publish", ...base, key: key.value, replace: replace.value === true });
    }
    const who = required(picked.value, WHO);
    return who.ok ? ok({ kind: "vouch", ...base, who: who.value }) : who;
  },

  encodeReply(reply): ExtensionReply {
    switch (reply.kind) {
      case "bound":
        return extReply("I", 0, []);
      case "vouched":
        return extReply("I", 0, [WHO.write(reply.who), KEY.write(reply.key)]);
      case "none":
        return extReply("I", 2, [WHO.write(reply.who)]);
      case "refused":
        return extReply("I", 1, [ERROR.write(reply.error)]);
    }
  },

  decodeReply(message): Decoded<IdentityReply> {
    if (message.type !== "I") return wrongType("RI", `R${message.type}`);
    const picked = pick(message.params, REPLY_KEYS);
    if (!picked.ok) return picked;
    if (message.code === 1) {
      const error = required(picked.value, ERROR);
      return error.ok ? ok({ kind: "refused", error: error.value }) : error;
    }
    if (message.code !== 0 && message.code !== 2) {
      return fail("unknown-code", "code", `RI${message.code} is not an answer`);
    }
    const who = optional(picked.value, WHO);
    if (!who.ok) return who;
    if (message.code === 2) {
      return who.value === undefined
        ? fail("missing", WHO.key, "RI2 names no address")
        : ok({ kind: "none", who: who.value });
    }
    if (who.value === undefined) return ok({ kind: "bound" });
    const key = readKey(picked.value);
    return key.ok ? ok({ kind: "vouched", who: who.value, key: key.value }) : key;
  },
};
