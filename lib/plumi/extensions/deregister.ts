/**
 * `PD…;v=2` / `RD…;v=2`: leaving, with the session token (docs/PROTOCOL.md,
 * "Registration, authentication and sessions").
 *
 * ```
 * PDlaura@bb.com;v=2;t=<token>
 * RD0;v=2                               done (or already offline)
 * RD1;v=2;e=user|replaced|auth|store
 * ```
 *
 * @module
 */

import type { DeregisterReply, DeregisterRequest } from "../messages.ts";
import { isV2, V2 } from "../params.ts";
import type { ExtensionDefinition } from "./definition.ts";
import { errorField } from "./errors.ts";
import { type Decoded, fail, ok, optional, pick } from "./fields.ts";
import { TOKEN } from "./session.ts";

/** The codes of a refused extended deregistration. */
export const DEREGISTER_ERRORS = ["user", "replaced", "auth", "store"] as const;

/** Why an extended deregistration was refused. */
export type DeregisterError = typeof DEREGISTER_ERRORS[number];

/** An extended deregistration. */
export interface ExtDeregisterRequest {
  readonly address: string;
  readonly token?: string;
}

/** The node's answer to a deregistration. */
export type ExtDeregisterReply =
  | { readonly kind: "done" }
  /** `error` is absent in an original node's bare `RD1`. */
  | { readonly kind: "refused"; readonly error?: DeregisterError };

const ERROR = errorField(DEREGISTER_ERRORS);

/** The extended deregistration, `PD…;v=2` / `RD…;v=2`. */
export const DeregisterExt: ExtensionDefinition<
  ExtDeregisterRequest,
  ExtDeregisterReply,
  DeregisterRequest,
  DeregisterReply
> = {
  name: "extended deregistration",
  request: "PD",
  reply: "RD",
  fields: [TOKEN, ERROR],
  examples: [
    "PDlaura@bb.com;v=2;t=DDDDDDDDDDDDDDDDDDDDDD",
    "PDlaura@bb.com;v=2",
    "RD0;v=2",
    "RD1;v=2;e=user",
    "RD1;v=2;e=replaced",
    "RD1;v=2;e=auth",
    "RD1;v=2;e=store",
  ],

  encodeRequest: ({ address, token }) => ({
    kind: "deregister",
    address,
    params: token === undefined ? [V2] : [V2, TOKEN.write(token)],
  }),

  decodeRequest(message): Decoded<ExtDeregisterRequest> {
    if (!isV2(message.params)) return fail("missing", "v", "not an extended deregistration");
    const picked = pick(message.params, [TOKEN.key]);
    if (!picked.ok) return picked;
    const token = optional(picked.value, TOKEN);
    if (!token.ok) return token;
    return ok(
      token.value === undefined
        ? { address: message.address }
        : { address: message.address, token: token.value },
    );
  },

  encodeReply: (reply) =>
    reply.kind === "done" ? { kind: "deregister-reply", code: 0, params: [V2] } : {
      kind: "deregister-reply",
      code: 1,
      params: reply.error === undefined ? [V2] : [V2, ERROR.write(reply.error)],
    },

  decodeReply(message): Decoded<ExtDeregisterReply> {
    if (message.code === 0) return ok({ kind: "done" });
    const picked = pick(message.params, [ERROR.key]);
    if (!picked.ok) return picked;
    const error = optional(picked.value, ERROR);
    if (!error.ok) return error;
    return ok(
      error.value === undefined ? { kind: "refused" } : { kind: "refused", error: error.value },
    );
  },
};
