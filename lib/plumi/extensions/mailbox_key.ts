/**
 * `PW` / `RW`: which identity key does a node vouch for at one of its
 * addresses? Asked by an agent of any domain before it seals an offline
 * message to that address, or to check who sealed one (docs/PROTOCOL.md,
 * "Offline messages"). No session is needed: the request is padded so that
 * the answer is never longer (amplification rule).
 *
 * ```
 * PW<address>;x=-----…      (padded to KEY_REQUEST_BYTES)
 * RW0;ik=<key>              the key bound to that account
 * RW2                       none: no such user, no key bound, or not this node's domain
 * RW1;e=store|off           refused
 * ```
 *
 * @module
 */

import { formatPlumi } from "../codec.ts";
import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import { base64Field, type Decoded, fail, ok, PADDING, pick, required } from "./fields.ts";
import { IDENTITY_KEY_CHARS } from "./identity.ts";

/** The `e=` codes of `RW1`. */
export const KEY_ERRORS = ["store", "off"] as const;

/** Why a key request was refused: the database failed, or no offline messages here. */
export type KeyError = typeof KEY_ERRORS[number];

/** The size a `PW` is padded to: the longest answer, `RW0;ik=<43>`, and a little more. */
export const KEY_REQUEST_BYTES = 64;

/** `PW<address>`: the key vouched for at `address`. */
export interface KeyRequest {
  readonly address: string;
  /** Dashes of the padding (`x=`); default: enough for {@linkcode KEY_REQUEST_BYTES}. */
  readonly pad?: { readonly dashes: number };
}

/** The node's answer. */
export type KeyReply =
  | { readonly kind: "vouched"; readonly key: string }
  | { readonly kind: "none" }
  | { readonly kind: "refused"; readonly error: KeyError };

const KEY = base64Field("ik", IDENTITY_KEY_CHARS);
const ERROR = errorField(KEY_ERRORS);

/** Identity key of an address, for offline messages, `PW` / `RW`. */
export const KeyExt: ExtensionDefinition<KeyRequest, KeyReply, ExtensionRequest, ExtensionReply> = {
  name: "identity key for offline messages",
  request: "PW",
  reply: "RW",
  fields: [PADDING, KEY, ERROR],
  examples: [
    "PWjoan@cc.com;x=--------------------------------------------------",
    "RW0;ik=KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK",
    "RW2",
    "RW1;e=off",
  ],

  encodeRequest({ address, pad }): ExtensionRequest {
    const bare = formatPlumi(extRequest("W", address, [])).length;
    const dashes = pad?.dashes ?? Math.max(0, KEY_REQUEST_BYTES - bare - ";x=".length);
    return extRequest("W", address, [PADDING.write(dashes)]);
  },

  decodeRequest(message): Decoded<KeyRequest> {
    if (message.type !== "W") return wrongType("PW", `P${message.type}`);
    return ok({ address: message.address });
  },

  encodeReply(reply): ExtensionReply {
    switch (reply.kind) {
      case "vouched":
        return extReply("W", 0, [KEY.write(reply.key)]);
      case "none":
        return extReply("W", 2, []);
      case "refused":
        return extReply("W", 1, [ERROR.write(reply.error)]);
    }
  },

  decodeReply(message): Decoded<KeyReply> {
    if (message.type !== "W") return wrongType("RW", `R${message.type}`);
    const picked = pick(message.params, [KEY.key, ERROR.key]);
    if (!picked.ok) return picked;
    if (message.code === 2) return ok({ kind: "none" });
    if (message.code === 1) {
      const error = required(picked.value, ERROR);
      return error.ok ? ok({ kind: "refused", error: error.value }) : error;
    }
    if (message.code !== 0) {
      return fail("unknown-code", "code", `RW${message.code} is not an answer`);
    }
    const key = required(picked.value, KEY);
    if (!key.ok) return key;
    return key.value.length === IDENTITY_KEY_CHARS
      ? ok({ kind: "vouched", key: key.value })
      : fail("malformed", KEY.key, `ik= must be ${IDENTITY_KEY_CHARS} characters`);
  },
};
