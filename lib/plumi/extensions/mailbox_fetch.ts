/**
 * `PF` / `RF`: the recipient fetches and acknowledges its offline messages
 * (docs/PROTOCOL.md, "Offline messages"), and the node's notice that some
 * wait.
 *
 * ```
 * PF<addr>[;a=<id>[.<id>…]][;i=<index>|;id=<id>;n=<part>/<parts>];q=<n>;m=<mac>   fetch
 * PF<addr>;c=<count>                                       notice, node → agent: <count> wait
 * RF0;id=<id>;f=<sender>;s=<seconds>;n=<part>/<parts>;d=<data>[;i=<index>]   a part
 * RF2                                                      nothing waiting
 * RF1;e=auth|invalid|store|off                             refused
 * ```
 *
 * Without `id=`, the node answers the first part of the oldest message
 * (`i=<index>`: of the one after `index` older ones, so that an agent may
 * ask for several at once; the answer repeats `i=`); with `id=` and `n=`,
 * that part. `a=` deletes the messages acknowledged (up to 16) before the
 * rest is answered, so one round trip acknowledges and fetches. A fetch is
 * sealed with the recipient's session (`session.ts`; the seal is taken off
 * before this decoder sees it).
 *
 * @module
 */

import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import { type Decoded, fail, ok, optional, pick, required } from "./fields.ts";
import {
  ACK_IDS,
  DATA,
  INDEX,
  MESSAGE_ID,
  PART,
  type PartOf,
  SENDER,
  STORED_AT,
  WAITING,
} from "./mailbox_fields.ts";

/** The `e=` codes of `RF1`. */
export const FETCH_ERRORS = ["auth", "invalid", "store", "off"] as const;

/** Why a fetch was refused: `auth` not the user's session; `invalid` malformed; `store` the database failed; `off` no offline messages here. */
export type FetchError = typeof FETCH_ERRORS[number];

/** A fetch by the recipient's agent, or the node's notice to it. */
export type FetchRequest =
  | {
    readonly kind: "fetch";
    readonly address: string;
    /** Acknowledge (delete) these messages first. */
    readonly ack?: readonly string[];
    /** Of the oldest messages, which (0 the oldest). Default 0. */
    readonly index?: number;
    /** Which part of which message; default the first part of the oldest. */
    readonly want?: { readonly id: string; readonly part: PartOf };
  }
  | { readonly kind: "notice"; readonly address: string; readonly waiting: number };

/** One part of a waiting message, nothing, or a refusal. */
export type FetchReply =
  | {
    readonly kind: "part";
    readonly id: string;
    readonly sender: string;
    /** When the node stored it, seconds since the epoch. */
    readonly storedAt: number;
    readonly part: PartOf;
    readonly data: string;
    /** The `i=` of the request. */
    readonly index?: number;
  }
  | { readonly kind: "empty"; readonly index?: number }
  | { readonly kind: "refused"; readonly error: FetchError };

const ERROR = errorField(FETCH_ERRORS);
const REQUEST_KEYS = [ACK_IDS.key, INDEX.key, MESSAGE_ID.key, PART.key, WAITING.key];
const REPLY_KEYS = [
  MESSAGE_ID.key,
  SENDER.key,
  STORED_AT.key,
  PART.key,
  DATA.key,
  INDEX.key,
  ERROR.key,
];

/** Offline message fetch and acknowledgement, `PF` / `RF`. */
export const FetchExt: ExtensionDefinition<
  FetchRequest,
  FetchReply,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "offline message fetch",
  request: "PF",
  reply: "RF",
  fields: [ACK_IDS, INDEX, MESSAGE_ID, PART, WAITING, SENDER, STORED_AT, DATA, ERROR],
  examples: [
    "PFjoan@cc.com",
    "PFjoan@cc.com;a=00112233445566ff",
    "PFjoan@cc.com;a=00112233445566ff.00112233445566fe;i=0",
    "PFjoan@cc.com;i=3",
    "PFjoan@cc.com;id=00112233445566ff;n=2/3",
    "PFjoan@cc.com;c=3",
    "RF0;id=00112233445566ff;f=laura@bb.com;s=1764600000;n=1/1;d=AQIDBAUGBwgJ",
    "RF0;id=00112233445566ff;f=laura@bb.com;s=1764600000;n=1/1;d=AQIDBAUGBwgJ;i=3",
    "RF2",
    "RF2;i=3",
    "RF1;e=auth",
  ],

  encodeRequest(r): ExtensionRequest {
    if (r.kind === "notice") return extRequest("F", r.address, [WAITING.write(r.waiting)]);
    return extRequest("F", r.address, [
      ...(r.ack === undefined || r.ack.length === 0 ? [] : [ACK_IDS.write(r.ack)]),
      ...(r.index === undefined ? [] : [INDEX.write(r.index)]),
      ...(r.want === undefined ? [] : [MESSAGE_ID.write(r.want.id), PART.write(r.want.part)]),
    ]);
  },

  decodeRequest(message): Decoded<FetchRequest> {
    if (message.type !== "F") return wrongType("PF", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    if (picked.value.has(WAITING.key)) {
      const waiting = required(picked.value, WAITING);
      return waiting.ok
        ? ok({ kind: "notice", address: message.address, waiting: waiting.value })
        : waiting;
    }
    const ack = optional(picked.value, ACK_IDS);
    if (!ack.ok) return ack;
    const index = optional(picked.value, INDEX);
    if (!index.ok) return index;
    const id = optional(picked.value, MESSAGE_ID);
    if (!id.ok) return id;
    const part = optional(picked.value, PART);
    if (!part.ok) return part;
    if ((id.value === undefined) !== (part.value === undefined)) {
      return fail("missing", id.value === undefined ? "id" : "n", "id= and n= go together");
    }
    return ok({
      kind: "fetch",
      address: message.address,
      ...(ack.value !== undefined && { ack: ack.value }),
      ...(index.value !== undefined && { index: index.value }),
      ...(id.value !== undefined && part.value !== undefined &&
        { want: { id: id.value, part: part.value } }),
    });
  },

  encodeReply(reply): ExtensionReply {
    switch (reply.kind) {
      case "part":
        return extReply("F", 0, [
          MESSAGE_ID.write(reply.id),
          SENDER.write(reply.sender),
          STORED_AT.write(reply.storedAt),
          PART.write(reply.part),
          DATA.write(reply.data),
          ...(reply.index === undefined ? [] : [INDEX.write(reply.index)]),
        ]);
      case "empty":
        return extReply("F", 2, reply.index === undefined ? [] : [INDEX.write(reply.index)]);
      case "refused":
        return extReply("F", 1, [ERROR.write(reply.error)]);
    }
  },

  decodeReply(message): Decoded<FetchReply> {
    if (message.type !== "F") return wrongType("RF", `R${message.type}`);
    const picked = pick(message.params, REPLY_KEYS);
    if (!picked.ok) return picked;
    const index = optional(picked.value, INDEX);
    if (!index.ok) return index;
    const at = index.value === undefined ? {} : { index: index.value };
    if (message.code === 2) return ok({ kind: "empty", ...at });
    if (message.code === 1) {
      const error = required(picked.value, ERROR);
      return error.ok ? ok({ kind: "refused", error: error.value }) : error;
    }
    if (message.code !== 0) {
      return fail("unknown-code", "code", `RF${message.code} is not an answer`);
    }
    const id = required(picked.value, MESSAGE_ID);
    if (!id.ok) return id;
    const sender = required(picked.value, SENDER);
    if (!sender.ok) return sender;
    const storedAt = required(picked.value, STORED_AT);
    if (!storedAt.ok) return storedAt;
    const part = required(picked.value, PART);
    if (!part.ok) return part;
    const data = required(picked.value, DATA);
    if (!data.ok) return data;
    return ok({
      kind: "part",
      id: id.value,
      sender: sender.value,
      storedAt: storedAt.value,
      part: part.value,
      data: data.value,
      ...at,
    });
  },
};
