/**
 * `PP` / `RP`: a node asks another domain's node what its user (the
 * watcher) may see of a buddy there (docs/PROTOCOL.md, "Presence across
 * domains"). The query is padded so that its answer is never longer.
 *
 * ```
 * PPjoan@cc.com;w=laura@bb.com;x=----------------------------------------
 * RP<c>;w=laura@bb.com;b=joan@cc.com[;at=<ip>:<port>]    c: 0 on, 1 busy, 2 no such user, 3 off, 4 not shared
 * ```
 *
 * @module
 */

import type { Endpoint } from "../address.ts";
import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import {
  addressField,
  AT,
  type Decoded,
  fail,
  ok,
  optional,
  PADDING,
  pick,
  required,
} from "./fields.ts";
import { NODE_PADDING_DASHES } from "./register.ts";
import { param } from "../params.ts";

/** What an `RP` says of the buddy, by answer code (0–4). */
export const PRESENCE_ANSWERS = ["on", "busy", "no-such-user", "off", "not-shared"] as const;

/** One of {@linkcode PRESENCE_ANSWERS}. */
export type PresenceAnswer = typeof PRESENCE_ANSWERS[number];

/** A presence query: what may `watcher` see of `buddy`? */
export interface PresenceRequest {
  /** The buddy, a user of the asked node's domain. */
  readonly buddy: string;
  /** The asking node's user. */
  readonly watcher: string;
}

/** The answer: the buddy's presence as `watcher` may see it, and where its agent is. */
export interface PresenceReply {
  readonly watcher: string;
  readonly buddy: string;
  readonly answer: PresenceAnswer;
  readonly at?: Endpoint;
}

const WATCHER = addressField("w");
const BUDDY = addressField("b");
const REPLY_KEYS = [WATCHER.key, BUDDY.key, AT.key];

/** The presence query between nodes, `PP` / `RP`. */
export const PresenceExt:
  & ExtensionDefinition<PresenceRequest, PresenceReply, ExtensionRequest, ExtensionReply>
  & {
    /**
     * The answer to a query whose watcher does not decode: `RP2` (no such
     * user to show), with its `w=` given back as it came (first one; empty
     * when none).
     */
    encodeBadWatcher(query: ExtensionRequest): ExtensionReply;
  } = {
    name: "presence query",
    request: "PP",
    reply: "RP",
    fields: [WATCHER, PADDING, BUDDY, AT],
    examples: [
      "PPjoan@cc.com;w=laura@bb.com;x=" + "-".repeat(NODE_PADDING_DASHES),
      "RP0;w=laura@bb.com;b=joan@cc.com;at=10.0.0.7:4000",
      "RP1;w=laura@bb.com;b=joan@cc.com;at=10.0.0.7:4000",
      "RP2;w=laura@bb.com;b=joan@cc.com",
      "RP3;w=laura@bb.com;b=joan@cc.com",
      "RP4;w=laura@bb.com;b=joan@cc.com",
    ],

    encodeRequest: ({ buddy, watcher }) =>
      extRequest("P", buddy, [WATCHER.write(watcher), PADDING.write(NODE_PADDING_DASHES)]),

    decodeRequest(message): Decoded<PresenceRequest> {
      if (message.type !== "P") return wrongType("PP", `P${message.type}`);
      const picked = pick(message.params, [WATCHER.key]);
      if (!picked.ok) return picked;
      const watcher = required(picked.value, WATCHER);
      if (!watcher.ok) return watcher;
      return ok({ buddy: message.address, watcher: watcher.value });
    },

    encodeReply: ({ watcher, buddy, answer, at }) =>
      extReply("P", PRESENCE_ANSWERS.indexOf(answer), [
        WATCHER.write(watcher),
        BUDDY.write(buddy),
        ...(at ? [AT.write(at)] : []),
      ]),

    encodeBadWatcher: (query) =>
      extReply("P", PRESENCE_ANSWERS.indexOf("no-such-user"), [
        `${WATCHER.key}=${param(query.params, WATCHER.key) ?? ""}`,
        BUDDY.write(query.address),
      ]),

    decodeReply(message): Decoded<PresenceReply> {
      if (message.type !== "P") return wrongType("RP", `R${message.type}`);
      const answer = PRESENCE_ANSWERS[message.code];
      if (!answer) return fail("unknown-code", "code", `RP${message.code} is not an answer`);
      const picked = pick(message.params, REPLY_KEYS);
      if (!picked.ok) return picked;
      const watcher = required(picked.value, WATCHER);
      if (!watcher.ok) return watcher;
      const buddy = required(picked.value, BUDDY);
      if (!buddy.ok) return buddy;
      const at = optional(picked.value, AT);
      if (!at.ok) return at;
      const reply = { watcher: watcher.value, buddy: buddy.value, answer };
      return ok(at.value ? { ...reply, at: at.value } : reply);
    },
  };
