/**
 * `PO` / `RO`: who is online in the domain, by page number or by cursor
 * (docs/PROTOCOL.md, "Who is online").
 *
 * ```
 * POlaura@bb.com[;p=<page>|;c=<cursor>]
 * RO0;p=<page>/<pages>;u=<name>;u=…      by number
 * RO0;u=<name>;u=…[;c=<cursor>]          by cursor: c= is the next page's, absent on the last
 * RO1;e=auth|off|store
 * ```
 *
 * @module
 */

import { isValidName } from "../address.ts";
import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import { PAGE_OF } from "./buddy_status.ts";
import {
  countField,
  type Decoded,
  fail,
  type Field,
  ok,
  optional,
  pick,
  required,
} from "./fields.ts";
import { COUNTER, MAC } from "./session.ts";

/** The codes of a refused online list. */
export const ONLINE_ERRORS = ["auth", "off", "store"] as const;

/** Why the online list was refused. */
export type OnlineError = typeof ONLINE_ERRORS[number];

/** A request for one page of the online list: by `cursor` (`""` the first page) or by `page`. */
export interface OnlineRequest {
  readonly address: string;
  readonly page?: number;
  readonly cursor?: string;
}

/** One page of the online list, or a refusal. */
export type OnlineReply =
  | {
    readonly kind: "numbered";
    readonly page: number;
    readonly pages: number;
    readonly names: readonly string[];
  }
  /** `next`: the cursor of the next page; absent on the last. */
  | { readonly kind: "after"; readonly names: readonly string[]; readonly next?: string }
  | { readonly kind: "refused"; readonly error: OnlineError };

/** Longest user name, in bytes. */
const MAX_NAME = 64;

function nameField(key: string, emptyToo: boolean): Field<string> {
  return {
    key,
    kind: "name",
    max: MAX_NAME,
    read: (text) =>
      (emptyToo && text === "") || isValidName(text)
        ? ok(text)
        : fail("malformed", key, `${key}= must be a user name, not "${text.slice(0, 70)}"`),
    write: (name) => `${key}=${name}`,
  };
}

const PAGE = countField("p", 0, 999_999);
const CURSOR = nameField("c", true);
const NAME = nameField("u", false);
const ERROR = errorField(ONLINE_ERRORS);
const REPLY_KEYS = [PAGE_OF.key, CURSOR.key, ERROR.key];

/** Sizes the node needs to fill a page of names within the extended limit. */
export const ONLINE_SIZES = {
  /** Longest user name. */
  maxName: MAX_NAME,
  /** Bytes a name of `length` characters costs in an answer (`;u=<name>`). */
  entry: (length: number): number => ";u=".length + length,
  /** Bytes of a page by cursor before its names, with room for any `;c=<name>`. */
  afterFixed: "RO0".length + ";c=".length + MAX_NAME,
  /** Bytes of a page by number before its names, page numbers of `digits` digits. */
  numberedFixed: (digits: number): number => "RO0;p=".length + 2 * digits + "/".length,
} as const;

/** Which page a `PO` asks for: by `cursor` when it has one, else by `page` (default 1). */
export type OnlinePaging = Pick<OnlineRequest, "page" | "cursor">;

function decodePaging(params: readonly string[]): Decoded<OnlinePaging> {
  const picked = pick(params, [PAGE.key, CURSOR.key]);
  if (!picked.ok) return picked;
  const page = optional(picked.value, PAGE);
  if (!page.ok) return page;
  const cursor = optional(picked.value, CURSOR);
  if (!cursor.ok) return cursor;
  if (cursor.value !== undefined) return ok({ cursor: cursor.value });
  return ok(page.value === undefined ? {} : { page: page.value });
}

/** Who is online, `PO` / `RO`. */
export const OnlineExt:
  & ExtensionDefinition<OnlineRequest, OnlineReply, ExtensionRequest, ExtensionReply>
  & {
    /** The paging of a `PO` (its parameters, once the node checked the seal). */
    decodePaging(params: readonly string[]): Decoded<OnlinePaging>;
  } = {
    name: "who is online",
    request: "PO",
    reply: "RO",
    fields: [COUNTER, MAC, PAGE, CURSOR, PAGE_OF, NAME, ERROR],
    examples: [
      "POlaura@bb.com;p=1",
      "POlaura@bb.com;c=",
      "POlaura@bb.com;c=joan",
      "RO0;p=1/3;u=joan;u=pere",
      "RO0;u=joan;u=pere;c=pere",
      "RO0;u=laura",
      "RO1;e=auth",
      "RO1;e=off",
      "RO1;e=store",
    ],

    encodeRequest: ({ address, page, cursor }) =>
      extRequest("O", address, [
        ...(cursor !== undefined
          ? [CURSOR.write(cursor)]
          : page !== undefined
          ? [PAGE.write(page)]
          : []),
      ]),

    decodePaging,

    decodeRequest(message): Decoded<OnlineRequest> {
      if (message.type !== "O") return wrongType("PO", `P${message.type}`);
      const paging = decodePaging(message.params);
      if (!paging.ok) return paging;
      return ok({ address: message.address, ...paging.value });
    },

    encodeReply(reply): ExtensionReply {
      switch (reply.kind) {
        case "refused":
          return extReply("O", 1, [ERROR.write(reply.error)]);
        case "numbered":
          return extReply("O", 0, [PAGE_OF.write(reply), ...reply.names.map((n) => NAME.write(n))]);
        case "after":
          return extReply("O", 0, [
            ...reply.names.map((n) => NAME.write(n)),
            ...(reply.next === undefined ? [] : [CURSOR.write(reply.next)]),
          ]);
      }
    },

    decodeReply(message): Decoded<OnlineReply> {
      if (message.type !== "O") return wrongType("RO", `R${message.type}`);
      const picked = pick(message.params, REPLY_KEYS);
      if (!picked.ok) return picked;
      if (message.code === 1) {
        const error = required(picked.value, ERROR);
        return error.ok ? ok({ kind: "refused", error: error.value }) : error;
      }
      if (message.code !== 0) {
        return fail("unknown-code", "code", `RO${message.code} is not an answer`);
      }
      const names: string[] = [];
      for (const p of message.params) {
        if (!p.startsWith("u=")) continue;
        const name = NAME.read(p.slice(2));
        if (!name.ok) return name;
        names.push(name.value);
      }
      const pageOf = optional(picked.value, PAGE_OF);
      if (!pageOf.ok) return pageOf;
      if (pageOf.value) return ok({ kind: "numbered", ...pageOf.value, names });
      const next = optional(picked.value, CURSOR);
      if (!next.ok) return next;
      return ok(
        next.value === undefined
          ? { kind: "after", names }
          : { kind: "after", names, next: next.value },
      );
    },
  };
