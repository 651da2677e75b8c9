/**
 * `PK` / `RK`: the heartbeat of an extended agent, and what the node says of
 * the session (docs/PROTOCOL.md, "Heartbeats and presence").
 *
 * ```
 * PKlaura@bb.com[;st=busy];q=<counter>;m=<mac>     sealed (session.ts)
 * RK0;c=<mark>          alive; the mark changes when anything the user may see of its buddies does
 * RK1                   unknown session: register again
 * RK1;e=auth            not sealed by the session's key, or a counter seen already: ignored
 * RK1;e=replaced[;at=<ip>:<port>]   another agent took the session over (from there)
 * ```
 *
 * @module
 */

import type { Endpoint } from "../address.ts";
import type { ExtensionReply, ExtensionRequest } from "../messages.ts";
import { type ExtensionDefinition, extReply, extRequest, wrongType } from "./definition.ts";
import { errorField } from "./errors.ts";
import { AT, type Decoded, fail, type Field, ok, optional, pick, wordField } from "./fields.ts";
import { COUNTER, MAC } from "./session.ts";

/** A heartbeat. */
export interface HeartbeatRequest {
  readonly address: string;
  /** The agent is in a conversation (`st=busy`). */
  readonly busy: boolean;
}

/** The node's answer to a heartbeat. */
export type HeartbeatReply =
  | { readonly kind: "alive"; readonly mark?: string }
  | { readonly kind: "unknown" }
  /** `RK1;e=auth`: the request was not the session's (a copy, changed, or another key). */
  | { readonly kind: "refused" }
  | { readonly kind: "replaced"; readonly at?: Endpoint };

/** `st=busy`. */
const STATE = wordField("st", ["busy"] as const);
/** `c=<mark>`: opaque, short. */
const MARK: Field<string> = {
  key: "c",
  kind: "mark",
  max: 64,
  read: (text) =>
    text.length > 64 ? fail("too-long", "c", `c= holds ${text.length} characters`) : ok(text),
  write: (mark) => `c=${mark}`,
};
const REPLACED = errorField(["replaced", "auth"] as const);

const REQUEST_KEYS = [STATE.key];
const REPLY_KEYS = [MARK.key, REPLACED.key, AT.key];

/** The heartbeat, `PK` / `RK`. */
export const HeartbeatExt: ExtensionDefinition<
  HeartbeatRequest,
  HeartbeatReply,
  ExtensionRequest,
  ExtensionReply
> = {
  name: "heartbeat",
  request: "PK",
  reply: "RK",
  fields: [COUNTER, MAC, STATE, MARK, REPLACED, AT],
  examples: [
    "PKlaura@bb.com",
    "PKlaura@bb.com;st=busy",
    "RK0;c=12.0.0",
    "RK1",
    "RK1;e=replaced",
    "RK1;e=auth",
    "RK1;e=replaced;at=10.0.0.7:4000",
  ],

  encodeRequest: ({ address, busy }) => extRequest("K", address, busy ? [STATE.write("busy")] : []),

  decodeRequest(message): Decoded<HeartbeatRequest> {
    if (message.type !== "K") return wrongType("PK", `P${message.type}`);
    const picked = pick(message.params, REQUEST_KEYS);
    if (!picked.ok) return picked;
    const state = optional(picked.value, STATE);
    if (!state.ok) return state;
    return ok({ address: message.address, busy: state.value === "busy" });
  },

  encodeReply(reply): ExtensionReply {
    switch (reply.kind) {
      case "alive":
        return extReply("K", 0, reply.mark === undefined ? [] : [MARK.write(reply.mark)]);
      case "unknown":
        return extReply("K", 1, []);
      case "refused":
        return extReply("K", 1, [REPLACED.write("auth")]);
      case "replaced":
        return extReply("K", 1, [
          REPLACED.write("replaced"),
          ...(reply.at ? [AT.write(reply.at)] : []),
        ]);
    }
  },

  decodeReply(message): Decoded<HeartbeatReply> {
    if (message.type !== "K") return wrongType("RK", `R${message.type}`);
    const picked = pick(message.params, REPLY_KEYS);
    if (!picked.ok) return picked;
    if (message.code === 0) {
      const mark = optional(picked.value, MARK);
      if (!mark.ok) return mark;
      return ok(mark.value === undefined ? { kind: "alive" } : { kind: "alive", mark: mark.value });
    }
    if (message.code !== 1) {
      return fail("unknown-code", "code", `RK${message.code} is not an answer`);
    }
    const error = optional(picked.value, REPLACED);
    if (!error.ok) return error;
    if (error.value === undefined) return ok({ kind: "unknown" });
    if (error.value === "auth") return ok({ kind: "refused" });
    const at = optional(picked.value, AT);
    if (!at.ok) return at;
    return ok(at.value ? { kind: "replaced", at: at.value } : { kind: "replaced" });
  },
};
