/**
 * `PB` / `RB`: adding or removing a buddy (docs/PROTOCOL.md, "Buddies and
 * the mutual rule").
 *
 * ```
 * PBlaura@bb.com;op=add|del;b=<buddy address>
 * RB0    done
 * RB1;e=auth|invalid|self|full|absent|store
 * ```
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import {
  addressField,
  type Decoded,
  fail,
  ok,
  optional,
  pick,
  required,
  wordField,
} from "./fields.ts";
import { COUNTER, MAC } from "./session.ts";

/** The codes of a refused buddy change. */
export const BUDDY_CHANGE_ERRORS = ["auth", "invalid", "self", "full", "absent", "store"] as const;

/** Why a buddy change was refused. */
export type BuddyChangeError = typeof BUDDY_CHANGE_ERRORS[number];

/** Add (`add`) or remove (`del`) a buddy. */
export interface BuddyChangeRequest {
  readonly address: string;
  readonly op: "add" | "del";
  readonly buddy: string;
}

/** The node's answer to a buddy change; `error` is absent when the node gave none. */
export type BuddyChangeReply =
  | { readonly kind: "done" }
  | { readonly kind: "refused"; readonly error?: BuddyChangeError };

const OP = wordField("op", ["add", "del"] as const);
/** `b=<address>`: the buddy. */
const BUDDY = addressField("b");
const ERROR = errorField(BUDDY_CHANGE_ERRORS);
const REQUEST_KEYS = [OP.key, BUDDY.key];

/** A buddy list change, `PB` / `RB`. */
export const BuddyChangeExt: ExtensionDefinition<
  BuddyChangeRequest,
  BuddyChangeReply,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "buddy list change",
  request: "PB",
  reply: "RB",
  fields: [COUNTER, MAC, OP, BUDDY, ERROR],
  examples: [
    "PBlaura@bb.com;op=add;b=joan@cc.com",
    "PBlaura@bb.com;op=del;b=joan@cc.com",
    "RB0",
    "RB1;e=auth",
    "RB1;e=invalid",
    "RB1;e=self",
    "RB1;e=full",
    "RB1;e=absent",
    "RB1;e=store",
  ],

  encodeRequest: ({ address, op, buddy }) =>
    extRequest("B", address, [OP.write(op), BUDDY.write(buddy)]),

  decodeRequest(message): Decoded<BuddyChangeRequest> {
    if (message.type !== "B") return wrongType("PB", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    const buddy = required(picked.value, BUDDY);
    if (!buddy.ok) return buddy;
    const op = required(picked.value, OP);
    if (!op.ok) return op;
    return ok({ address: message.address, op: op.value, buddy: buddy.value });
  },

  encodeReply: (reply) =>
    reply.kind === "done"
      ? extReply("B", 0, [])
      : extReply("B", 1, reply.error === undefined ? [] : [ERROR.write(reply.error)]),

  decodeReply(message): Decoded<BuddyChangeReply> {
    if (message.type !== "B") return wrongType("RB", `R${message.type}`);
    if (message.code === 0) return ok({ kind: "done" });
    if (message.code !== 1) {
      return fail("unknown-code", "code", `RB${message.code} is not an answer`);
    }
    const picked = pick(message.params, [ERROR.key]);
    if (!picked.ok) return picked;
    const error = optional(picked.value, ERROR);
    if (!error.ok) return error;
    return ok(
      error.value === undefined ? { kind: "refused" } : { kind: "refused", error: error.value },
    );
  },
};
