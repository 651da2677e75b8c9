/**
 * `PS` / `RS`: the status of every buddy, in pages (docs/PROTOCOL.md,
 * "Buddies and the mutual rule", "Changes between two looks").
 *
 * ```
 * PSlaura@bb.com[;p=<page>][;h=1]
 * RS0;p=<page>/<pages>[;h=1];b=<state>,<ip>,<port>,[<seq>,<trail>,]<buddy>;b=…
 * RS1;e=auth|store
 * ```
 *
 * The buddy address comes last in an entry, as it may hold commas.
 *
 * @module
 */

import { type Endpoint, parseAddress, parseIp, parsePort } from "../address.ts";
import {
  type ExtensionReply,
  type ExtensionRequest,
  MAX_EXTENDED_PACKET_BYTES,
} from "../messages.ts";
import { paginate } from "../params.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import {
  countField,
  type Decoded,
  fail,
  type Field,
  ok,
  optional,
  pick,
  required,
  wordField,
} from "./fields.ts";
import { COUNTER, MAC } from "./session.ts";

/** What a watcher may see of a buddy: `?` is not shared with you, or unknown. */
export const BUDDY_STATES = ["on", "busy", "off", "?"] as const;

/** One of {@linkcode BUDDY_STATES}. */
export type BuddyState = typeof BUDDY_STATES[number];

/** The codes of a refused status request. */
export const BUDDY_STATUS_ERRORS = ["auth", "store"] as const;

/** Why a status request was refused. */
export type BuddyStatusError = typeof BUDDY_STATUS_ERRORS[number];

/** Most states in a trail (`h=1`). */
export const TRAIL_LENGTH = 8;

/** A buddy and what the node shows of it: one `b=` entry. */
export interface BuddyEntry {
  readonly address: string;
  readonly state: BuddyState;
  /** Where its agent is: only for `on` and `busy`. */
  readonly endpoint?: Endpoint;
  /** How many presence changes the node has seen of this buddy (`h=1`, a local shared buddy). */
  readonly seq?: number;
  /** The states after its last changes, oldest first, ending with `state` (with `seq`). */
  readonly trail?: readonly BuddyState[];
}

/** A status request: page `page` (default 1), with the buddies' recent changes when `history`. */
export interface BuddyStatusRequest {
  readonly address: string;
  readonly page?: number;
  readonly history: boolean;
}

/** One page of the status, or a refusal. */
export type BuddyStatusReply =
  | {
    readonly kind: "page";
    readonly page: number;
    readonly pages: number;
    /** The entries carry `seq` and `trail` fields (`h=1`, maybe empty). */
    readonly history: boolean;
    readonly entries: readonly BuddyEntry[];
  }
  | { readonly kind: "refused"; readonly error: BuddyStatusError };

/** Largest page number. */
const MAX_PAGE = 999_999;
const PAGE = countField("p", 0, MAX_PAGE);
const HISTORY = wordField("h", ["0", "1"] as const);
const ERROR = errorField(BUDDY_STATUS_ERRORS);

const PAGE_OF_RE = /^([1-9][0-9]{0,5})\/([1-9][0-9]{0,5})$/;
/** `p=<page>/<pages>` of an answer. */
export const PAGE_OF: Field<{ page: number; pages: number }> = {
  key: "p",
  kind: "page",
  max: 13,
  read(text) {
    const m = text.length <= 13 ? PAGE_OF_RE.exec(text) : null;
    const page = Number(m?.[1]);
    const pages = Number(m?.[2]);
    return m && page <= pages
      ? ok({ page, pages })
      : fail("malformed", "p", `p= must be <page>/<pages>, not "${text.slice(0, 20)}"`);
  },
  write: ({ page, pages }) => `p=${page}/${pages}`,
};

function encodeEntry(entry: BuddyEntry, history: boolean): string {
  const where = `${entry.endpoint?.ip ?? ""},${entry.endpoint?.port ?? ""}`;
  if (!history) return `b=${entry.state},${where},${entry.address}`;
  const changes = entry.seq === undefined ? "," : `${entry.seq},${(entry.trail ?? []).join(".")}`;
  return `b=${entry.state},${where},${changes},${entry.address}`;
}

function isState(text: string | undefined): text is BuddyState {
  return (BUDDY_STATES as readonly (string | undefined)[]).includes(text);
}

/**
 * One `b=` entry (the text after `b=`): `<state>,<ip>,<port>,<buddy>`, or
 * with history `<state>,<ip>,<port>,<seq>,<trail>,<buddy>`.
 */
export function decodeBuddyEntry(text: string, history: boolean): Decoded<BuddyEntry> {
  const bad = (why: string) => fail("malformed", "b", `b=${text.slice(0, 60)}: ${why}`);
  const fields = text.split(",");
  const fixed = history ? 5 : 3;
  if (fields.length <= fixed) return bad(`fewer than ${fixed + 1} fields`);
  const [state, ip = "", port = "", seq = "", trail = ""] = fields;
  const address = fields.slice(fixed).join(",");
  if (!isState(state)) return bad("no such state");
  if (!parseAddress(address).ok) return bad("not an address");
  let endpoint: Endpoint | undefined;
  if (ip !== "" || port !== "") {
    const i = parseIp(ip);
    const p = parsePort(port);
    if (!i.ok || !p.ok) return bad("not an ip and port");
    endpoint = { ip: i.value, port: p.value };
  }
  const entry: BuddyEntry = { address, state, ...(endpoint && { endpoint }) };
  if (!history || (seq === "" && trail === "")) return ok(entry);
  const count = countField("seq", 0, Number.MAX_SAFE_INTEGER).read(seq);
  const states = trail.split(".");
  if (!count.ok || states.length > TRAIL_LENGTH || !states.every(isState)) {
    return bad("not a change count and trail");
  }
  return ok({ ...entry, seq: count.value, trail: states });
}

/** `RS0;p=NNNNN/NNNNN`: the bytes of a page before its entries (a list has far fewer pages). */
const PAGE_HEAD_BYTES = "RS0;p=99999/99999".length;
const REQUEST_KEYS = [PAGE.key, HISTORY.key];
const REPLY_KEYS = [PAGE_OF.key, HISTORY.key, ERROR.key];

/** The status of every buddy, `PS` / `RS`. */
export const BuddyStatusExt:
  & ExtensionDefinition<BuddyStatusRequest, BuddyStatusReply, ExtensionRequest, ExtensionReply>
  & {
    /**
     * Page `wanted` (past the last: the last; default 1) of `entries`, cut so
     * that every page fits {@linkcode MAX_EXTENDED_PACKET_BYTES}.
     */
    encodePage(
      entries: readonly BuddyEntry[],
      wanted: number | undefined,
      history: boolean,
    ): ExtensionReply;
  } = {
    name: "buddy status",
    request: "PS",
    reply: "RS",
    fields: [COUNTER, MAC, PAGE, HISTORY, PAGE_OF, ERROR, {
      key: "b",
      kind: "entry",
      max: MAX_EXTENDED_PACKET_BYTES,
      read: (text) => decodeBuddyEntry(text, false),
      write: (entry: BuddyEntry) => encodeEntry(entry, false),
    }],
    examples: [
      "PSlaura@bb.com",
      "PSlaura@bb.com;p=2",
      "PSlaura@bb.com;p=1;h=1",
      "RS0;p=1/1",
      "RS0;p=1/1;b=on,10.0.0.7,4000,joan@cc.com;b=?,,,pere@bb.com",
      "RS0;p=1/1;h=1;b=on,10.0.0.7,4001,2,on.off.on,joan@bb.com;b=?,,,,,pere@bb.com",
      "RS1;e=auth",
      "RS1;e=store",
    ],

    encodeRequest: ({ address, page, history }) =>
      extRequest("S", address, [
        ...(page === undefined ? [] : [PAGE.write(page)]),
        ...(history ? [HISTORY.write("1")] : []),
      ]),

    decodeRequest(message): Decoded<BuddyStatusRequest> {
      if (message.type !== "S") return wrongType("PS", `P${message.type}`);
      const picked = pick(message.params, REQUEST_KEYS);
      if (!picked.ok) return picked;
      const page = optional(picked.value, PAGE);
      if (!page.ok) return page;
      const history = optional(picked.value, HISTORY);
      if (!history.ok) return history;
      const base = { address: message.address, history: history.value === "1" };
      return ok(page.value === undefined ? base : { ...base, page: page.value });
    },

    encodeReply(reply): ExtensionReply {
      if (reply.kind === "refused") return extReply("S", 1, [ERROR.write(reply.error)]);
      return extReply("S", 0, [
        PAGE_OF.write(reply),
        ...(reply.history ? [HISTORY.write("1")] : []),
        ...reply.entries.map((e) => encodeEntry(e, reply.history)),
      ]);
    },

    encodePage(entries, wanted, history): ExtensionReply {
      const extra = history ? [HISTORY.write("1")] : [];
      const fixed = PAGE_HEAD_BYTES + extra.reduce((sum, p) => sum + p.length + 1, 0);
      const pages = paginate(
        entries.map((e) => encodeEntry(e, history)),
        fixed,
        MAX_EXTENDED_PACKET_BYTES,
      );
      const page = Math.min(Math.max(1, wanted || 1), pages.length);
      return extReply("S", 0, [
        PAGE_OF.write({ page, pages: pages.length }),
        ...extra,
        ...pages[page - 1]!,
      ]);
    },

    decodeReply(message): Decoded<BuddyStatusReply> {
      if (message.type !== "S") return wrongType("RS", `R${message.type}`);
      const picked = pick(message.params, REPLY_KEYS);
      if (!picked.ok) return picked;
      if (message.code === 1) {
        const error = required(picked.value, ERROR);
        return error.ok ? ok({ kind: "refused", error: error.value }) : error;
      }
      if (message.code !== 0) {
        return fail("unknown-code", "code", `RS${message.code} is not an answer`);
      }
      const pageOf = required(picked.value, PAGE_OF);
      if (!pageOf.ok) return pageOf;
      const h = optional(picked.value, HISTORY);
      if (!h.ok) return h;
      const history = h.value === "1";
      const entries: BuddyEntry[] = [];
      for (const p of message.params) {
        if (!p.startsWith("b=")) continue;
        const entry = decodeBuddyEntry(p.slice(2), history);
        if (!entry.ok) return entry;
        entries.push(entry.value);
      }
      return ok({ kind: "page", ...pageOf.value, history, entries });
    },
  };
