/**
 * `PD…;v=2` / `RD…;v=2`: leaving, sealed with the session key (`q=`, `m=`:
 * `session.ts`; docs/PROTOCOL.md, "Registration, authentication and sessions").
 *
 * ```
 * PDlaura@bb.com;v=2;q=<counter>;m=<mac>
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
import { COUNTER, MAC } from "./session.ts";

/** The codes of a refused extended deregistration. */
export const DEREGISTER_ERRORS = ["user", "replaced", "auth", "store"] as const;

/** Why an extended deregistration was refused. */
export type DeregisterError = typeof DEREGISTER_ERRORS[number];

/** An extended deregistration. */
export interface ExtDeregisterRequest {
  readonly address: string;
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
  fields: [COUNTER, MAC, ERROR],
  examples: [
    "PDlaura@bb.com;v=2",
    "RD0;v=2",
    "RD1;v=2;e=user",
    "RD1;v=2;e=replaced",
    "RD1;v=2;e=auth",
    "RD1;v=2;e=store",
  ],

  encodeRequest: ({ address }) => ({ kind: "deregister", address, params: [V2] }),

  decodeRequest(message): Decoded<ExtDeregisterRequest> {
    if (!isV2(message.params)) return fail("missing", "v", "not an extended deregistration");
    return ok({ address: message.address });
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
