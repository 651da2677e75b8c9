/**
 * `PM` / `RM`: leave one part of a sealed offline message with the
 * recipient's node (docs/PROTOCOL.md, "Offline messages").
 *
 * ```
 * PM<recipient>;f=<sender>;id=<id>;n=<part>/<parts>;d=<data>[;q=<n>;m=<mac>]
 * RM0;id=<id>;n=<part>/<parts>      part held; the last part: the message is stored (on disk)
 * RM1;id=<id>;e=<reason>            refused (user|full|quota|big|invalid|auth|store|off)
 * ```
 *
 * When the recipient's node is the sender's own, the request is sealed with
 * the sender's session (`q=`, `m=`: `session.ts`; the seal is taken off
 * before this decoder sees it): then the node knows the sender. Unsealed,
 * the sender is a stranger to the node, counted by its source IP.
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import { type Decoded, fail, ok, optional, pick, required } from "./fields.ts";
import { DATA, MESSAGE_ID, PART, type PartOf, SENDER } from "./mailbox_fields.ts";

/** The `e=` codes of `RM1`. */
export const DEPOSIT_ERRORS = [
  "user",
  "full",
  "quota",
  "big",
  "invalid",
  "auth",
  "store",
  "off",
] as const;

/**
 * Why a deposit was refused: `user` no such user here; `full` the
 * recipient's mailbox holds its bound of messages or bytes; `quota` the
 * sender's bound (messages or bytes waiting from it); `big` the message is
 * longer than the node keeps; `invalid` malformed, or parts that do not
 * fit together; `auth` a seal that is not the sender's session; `store` the
 * database failed, nothing kept; `off` this node keeps no offline messages.
 */
export type DepositError = typeof DEPOSIT_ERRORS[number];

/** One part of a message for `recipient`. */
export interface DepositRequest {
  readonly recipient: string;
  readonly sender: string;
  readonly id: string;
  readonly part: PartOf;
  /** This part of the sealed message, URL-safe base64. */
  readonly data: string;
}

/** The node's answer to one part. */
export type DepositReply =
  | { readonly kind: "held"; readonly id: string; readonly part: PartOf }
  | { readonly kind: "refused"; readonly id?: string; readonly error: DepositError };

const ERROR = errorField(DEPOSIT_ERRORS);
const REQUEST_KEYS = [SENDER.key, MESSAGE_ID.key, PART.key, DATA.key];
const REPLY_KEYS = [MESSAGE_ID.key, PART.key, ERROR.key];

/** Offline message deposit, `PM` / `RM`. */
export const DepositExt: ExtensionDefinition<
  DepositRequest,
  DepositReply,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "offline message deposit",
  request: "PM",
  reply: "RM",
  fields: [SENDER, MESSAGE_ID, PART, DATA, ERROR],
  examples: [
    "PMjoan@cc.com;f=laura@bb.com;id=00112233445566ff;n=1/1;d=AQIDBAUGBwgJ",
    "PMjoan@bb.com;f=laura@bb.com;id=00112233445566ff;n=2/3;d=AQID",
    "RM0;id=00112233445566ff;n=1/1",
    "RM1;id=00112233445566ff;e=full",
    "RM1;e=invalid",
  ],

  encodeRequest: (r) =>
    extRequest("M", r.recipient, [
      SENDER.write(r.sender),
      MESSAGE_ID.write(r.id),
      PART.write(r.part),
      DATA.write(r.data),
    ]),

  decodeRequest(message): Decoded<DepositRequest> {
    if (message.type !== "M") return wrongType("PM", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    const sender = required(picked.value, SENDER);
    if (!sender.ok) return sender;
    const id = required(picked.value, MESSAGE_ID);
    if (!id.ok) return id;
    const part = required(picked.value, PART);
    if (!part.ok) return part;
    const data = required(picked.value, DATA);
    if (!data.ok) return data;
    return ok({
      recipient: message.address,
      sender: sender.value,
      id: id.value,
      part: part.value,
      data: data.value,
    });
  },

  encodeReply: (reply) =>
    reply.kind === "held"
      ? extReply("M", 0, [MESSAGE_ID.write(reply.id), PART.write(reply.part)])
      : extReply("M", 1, [
        ...(reply.id === undefined ? [] : [MESSAGE_ID.write(reply.id)]),
        ERROR.write(reply.error),
      ]),

  decodeReply(message): Decoded<DepositReply> {
    if (message.type !== "M") return wrongType("RM", `R${message.type}`);
    const picked = pick(message.params, REPLY_KEYS);
    if (!picked.ok) return picked;
    const id = optional(picked.value, MESSAGE_ID);
    if (!id.ok) return id;
    if (message.code === 1) {
      const error = required(picked.value, ERROR);
      if (!error.ok) return error;
      return ok({
        kind: "refused",
        error: error.value,
        ...(id.value !== undefined && { id: id.value }),
      });
    }
    if (message.code !== 0) {
      return fail("unknown-code", "code", `RM${message.code} is not an answer`);
    }
    if (id.value === undefined) return fail("missing", MESSAGE_ID.key, "RM0 names no message");
    const part = required(picked.value, PART);
    return part.ok ? ok({ kind: "held", id: id.value, part: part.value }) : part;
  },
};

/**
 * The sender (`f=`) a deposit names, sealed or not (the node checks the
 * seal as that sender's); `undefined` when it names none, or a bad one.
 */
export function depositSender(message: ExtensionRequest): string | undefined {
  const picked = pick(message.params, [SENDER.key]);
  if (!picked.ok) return undefined;
  const sender = required(picked.value, SENDER);
  return sender.ok ? sender.value : undefined;
}
