/**
 * `PU` / `RU`: creating an account (docs/PROTOCOL.md, "Sign-up"). Only what
 * the node stores travels: salt, iteration count and stored key.
 *
 * ```
 * PUnuria@bb.com;s=<salt>;i=<iterations>;k=<storedKey>
 * RU0   created (or the very same sign-up again)
 * RU1;e=taken   RU2;e=invalid   RU3;e=closed   RU3;e=rate   RU4;e=store
 * ```
 *
 * A `PU` without parameters asks whether sign-up is open without creating
 * anything: `RU2;e=invalid` when it is, `RU3;e=closed` when not.
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import {
  base64Field,
  countField,
  type Decoded,
  fail,
  ok,
  optional,
  pick,
  required,
} from "./fields.ts";

/** The codes of a refused sign-up, with the answer code each goes with. */
export const SIGNUP_ERRORS = { taken: 1, invalid: 2, closed: 3, rate: 3, store: 4 } as const;

/** Why a sign-up was refused. */
export type SignUpError = keyof typeof SIGNUP_ERRORS;

/** The code each answer code means when it comes without `e=`. */
const BY_CODE: Record<number, SignUpError> = { 1: "taken", 2: "invalid", 3: "closed", 4: "store" };

/** A sign-up: the credentials the node will store (never the password). */
export interface SignUpRequest {
  readonly address: string;
  /** URL-safe base64. */
  readonly salt: string;
  readonly iterations: number;
  /** URL-safe base64. */
  readonly storedKey: string;
}

/** The node's answer to a sign-up. */
export type SignUpReply =
  | { readonly kind: "created" }
  | { readonly kind: "refused"; readonly error: SignUpError };

const SALT = base64Field("s", 128);
const ITERATIONS = countField("i", 0, 999_999_999);
const KEY = base64Field("k", 128, "base64", true);
const ERROR = errorField(Object.keys(SIGNUP_ERRORS) as SignUpError[]);
const REQUEST_KEYS = [SALT.key, ITERATIONS.key, KEY.key];

/** Sign-up, `PU` / `RU`. */
export const SignUpExt:
  & ExtensionDefinition<
    SignUpRequest,
    SignUpReply,
    ExtensionRequest,
    ExtensionReply
  >
  & {
    /** The `PU` without parameters that asks whether sign-up is open. */
    encodeProbe(address: string): ExtensionRequest;
  } = {
    name: "sign-up",
    request: "PU",
    reply: "RU",
    fields: [SALT, ITERATIONS, KEY, ERROR],
    examples: [
      "PUnuria@bb.com;s=EEEEEEEEEEEEEEEEEEEEEE;i=600000;k=FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
      "RU0",
      "RU1;e=taken",
      "RU2;e=invalid",
      "RU3;e=closed",
      "RU3;e=rate",
      "RU4;e=store",
    ],

    encodeRequest: ({ address, salt, iterations, storedKey }) =>
      extRequest("U", address, [
        SALT.write(salt),
        ITERATIONS.write(iterations),
        KEY.write(storedKey),
      ]),

    encodeProbe: (address) => extRequest("U", address, []),

    decodeRequest(message): Decoded<SignUpRequest> {
      if (message.type !== "U") return wrongType("PU", `P${message.type}`);
      const picked = pick(message.params, REQUEST_KEYS);
      if (!picked.ok) return picked;
      const salt = required(picked.value, SALT);
      if (!salt.ok) return salt;
      const iterations = required(picked.value, ITERATIONS);
      if (!iterations.ok) return iterations;
      const storedKey = required(picked.value, KEY);
      if (!storedKey.ok) return storedKey;
      return ok({
        address: message.address,
        salt: salt.value,
        iterations: iterations.value,
        storedKey: storedKey.value,
      });
    },

    encodeReply: (reply) =>
      reply.kind === "created"
        ? extReply("U", 0, [])
        : extReply("U", SIGNUP_ERRORS[reply.error], [ERROR.write(reply.error)]),

    decodeReply(message): Decoded<SignUpReply> {
      if (message.type !== "U") return wrongType("RU", `R${message.type}`);
      if (message.code === 0) return ok({ kind: "created" });
      const implied = BY_CODE[message.code];
      if (!implied) return fail("unknown-code", "code", `RU${message.code} is not an answer`);
      const picked = pick(message.params, [ERROR.key]);
      if (!picked.ok) return picked;
      const error = optional(picked.value, ERROR);
      if (!error.ok) return error;
      const said = error.value ?? implied;
      if (SIGNUP_ERRORS[said] !== message.code) {
        return fail("malformed", "e", `e=${said} does not go with RU${message.code}`);
      }
      return ok({ kind: "refused", error: said });
    },
  };
